-- Tamper-evident history (issue 13, item 10). Keep in step with migrations/sqlite.
-- One link per case event: SHA-256 over the event's canonical encoding and the previous
-- event's hash (cityloop-domain/src/chain.rs). Written in the event's own transaction.
CREATE TABLE case_event_chain (
    case_id   TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    -- The root that covers this link; NULL until the next root is sealed.
    root_seq  BIGINT,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_event_chain_root ON case_event_chain(root_seq, case_id, seq);

-- Links may only be assigned to a root (root_seq NULL -> a value); nothing else changes.
CREATE FUNCTION case_event_chain_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.root_seq IS NULL AND NEW.root_seq IS NOT NULL
       AND NEW.case_id = OLD.case_id AND NEW.seq = OLD.seq
       AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'case_event_chain is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER case_event_chain_no_update BEFORE UPDATE OR DELETE ON case_event_chain
FOR EACH ROW EXECUTE FUNCTION case_event_chain_append_only();

-- Each root seals the links recorded since the previous root, chained to it.
CREATE TABLE chain_roots (
    seq         BIGINT PRIMARY KEY,
    sealed_at   TIMESTAMPTZ NOT NULL,
    period_from TIMESTAMPTZ,
    events      BIGINT NOT NULL,
    root        TEXT NOT NULL,
    prev_root   TEXT NOT NULL
);

CREATE FUNCTION chain_roots_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'chain_roots is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER chain_roots_no_update BEFORE UPDATE OR DELETE ON chain_roots
FOR EACH ROW EXECUTE FUNCTION chain_roots_append_only();

-- One row once the events written before this migration have been linked (at the first
-- start or `cityloop migrate` after it); they are sealed as stored, never rewritten.
CREATE TABLE chain_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_at     TIMESTAMPTZ NOT NULL,
    sealed_events BIGINT NOT NULL
);

-- Every `cityloop verify` (and restore) result; the admin console shows the newest.
CREATE TABLE verify_runs (
    id          TEXT PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    ran_by      TEXT NOT NULL,
    ok          BOOLEAN NOT NULL,
    events      BIGINT NOT NULL,
    problems    BIGINT NOT NULL,
    report      TEXT NOT NULL
);
CREATE INDEX verify_runs_finished ON verify_runs(finished_at, id);
