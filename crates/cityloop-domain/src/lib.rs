//! The pure domain core of cityloop: what a case is, how it moves through the closed loop,
//! and how its deadlines run on working time.
//!
//! This crate does no I/O: no files, no network, no database, no async, no clock reads.
//! Every function takes the current time and the calendar as arguments, so the whole
//! workflow is testable with plain unit tests.
//!
//! # Layout
//! - [`ids`]: newtype identifiers and the human-readable case number.
//! - [`model`]: categories, units, people, roles, case sources, priorities.
//! - [`calendar`]: the district's working-time calendar and the per-stage deadline clock.
//! - [`limits`]: the time-limit table keyed by (category, area grade, urgency).
//! - [`assign`]: which unit handles a case (territory leads, departments by category type).
//! - [`escalation`]: which deadline escalations are due for a case.
//! - [`inbox`]: the live inbox: which notices an event raises, and for whom.
//! - [`evaluation`]: per-case evaluation facts, additive counters, indicators, scores, ranks.
//! - [`workflow`]: the case state machine (states, actions, who may do what, required fields).
//! - [`public`]: what citizens are told (state wording, public replies), apart from internal notes.
//! - [`search`]: case search text (two-character words), query parsing, number and phone keys.
//! - [`case`]: the case aggregate: a current view that is a fold over its events.
//! - [`privacy`]: privacy by role: who sees a reporter's name, phone, e-mail, ids and photo GPS.
//! - [`chain`]: tamper-evident history: the canonical event encoding, hash links, roots,
//!   and the verifier that recomputes them.
//! - [`import`]: history import: mapping files, row mapping and refusals, synthesised histories.
//! - [`message`]: messages to citizens: which events send what, templates, one-time codes.
//! - [`hotline`]: the 12345 bridge: work orders in, receipts and replies out, the mapping.
//! - [`webhook`]: outgoing webhook event types, payloads, retry schedule, validation.
//! - [`sensor`]: sensor alarm rules: rolling means, holds, hysteresis, episodes, bad readings.
//! - [`party`]: parties (当事人), the 统一社会信用代码 check, the repeat-offender rule.
//! - [`cohandle`]: co-handling (主办/协办): assisting units with their own tasks and clocks.
//! - [`enforce`]: enforcement records: the penalty procedure, its statutory clocks, the
//!   legal basis and the penalty range.
//! - [`dashboard`]: the leaders' view: its windows (today, this month, the same periods
//!   before, 30 days, this week) and how dated facts count into them.
//! - [`patrol`]: the road chief's patrol clock: windows per level on the working-day calendar.

pub mod assign;
pub mod calendar;
pub mod case;
pub mod chain;
pub mod cohandle;
pub mod dashboard;
pub mod escalation;
pub mod evaluation;
pub mod hotline;
pub mod ids;
pub mod import;
pub mod inbox;
pub mod limits;
pub mod message;
pub mod model;
pub mod patrol;
pub mod privacy;
pub mod public;
pub mod search;
pub mod sensor;
pub mod track;
pub mod webhook;
pub mod workflow;

pub mod enforce;
pub mod party;
