-- The leaders' view (领导驾驶舱, issue 17): registrations, closures and rework of a time
-- window are read by event kind and time (cityloop-store/src/dashboard.rs), a range per
-- kind instead of a scan of every event. Keep in step with the other tree.
CREATE INDEX case_events_kind_at ON case_events(kind, at, to_state);
