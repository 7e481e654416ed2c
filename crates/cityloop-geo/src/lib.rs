//! Territory and routing engine (being built; see ARCHITECTURE.md).
