-- Tamper-evident history (issue 13, item 10). Keep in step with migrations/postgres.
-- One link per case event: SHA-256 over the event's canonical encoding and the previous
-- event's hash (cityloop-domain/src/chain.rs). Written in the event's own transaction.
CREATE TABLE case_event_chain (
    case_id   TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    -- The root that covers this link; NULL until the next root is sealed.
    root_seq  INTEGER,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_event_chain_root ON case_event_chain(root_seq, case_id, seq);

-- Links may only be assigned to a root (root_seq NULL -> a value); nothing else changes.
CREATE TRIGGER case_event_chain_no_update BEFORE UPDATE ON case_event_chain
WHEN OLD.root_seq IS NOT NULL OR NEW.root_seq IS NULL
  OR NEW.case_id IS NOT OLD.case_id OR NEW.seq IS NOT OLD.seq
  OR NEW.prev_hash IS NOT OLD.prev_hash OR NEW.hash IS NOT OLD.hash
BEGIN SELECT RAISE(ABORT, 'case_event_chain is append-only'); END;
CREATE TRIGGER case_event_chain_no_delete BEFORE DELETE ON case_event_chain
BEGIN SELECT RAISE(ABORT, 'case_event_chain is append-only'); END;

-- Each root seals the links recorded since the previous root, chained to it.
CREATE TABLE chain_roots (
    seq         INTEGER PRIMARY KEY,
    sealed_at   TEXT NOT NULL,
    period_from TEXT,
    events      INTEGER NOT NULL,
    root        TEXT NOT NULL,
    prev_root   TEXT NOT NULL
);
CREATE TRIGGER chain_roots_no_update BEFORE UPDATE ON chain_roots
BEGIN SELECT RAISE(ABORT, 'chain_roots is append-only'); END;
CREATE TRIGGER chain_roots_no_delete BEFORE DELETE ON chain_roots
BEGIN SELECT RAISE(ABORT, 'chain_roots is append-only'); END;

-- One row once the events written before this migration have been linked (at the first
-- start or `cityloop migrate` after it); they are sealed as stored, never rewritten.
CREATE TABLE chain_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_at     TEXT NOT NULL,
    sealed_events INTEGER NOT NULL
);

-- Every `cityloop verify` (and restore) result; the admin console shows the newest.
CREATE TABLE verify_runs (
    id          TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    ran_by      TEXT NOT NULL,
    ok          INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    problems    INTEGER NOT NULL,
    report      TEXT NOT NULL
);
CREATE INDEX verify_runs_finished ON verify_runs(finished_at, id);
