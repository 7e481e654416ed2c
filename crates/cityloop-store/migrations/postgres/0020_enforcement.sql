-- Parties and enforcement records (issue 20). Keep in step with the sqlite tree.
-- parties: the person or organisation responsible for a problem. `id_number` is kept in
-- full and shaped on every read by the privacy table (full only to enforcement).
CREATE TABLE parties (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    credit_code TEXT UNIQUE,
    id_number   TEXT,
    address     TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT
);
CREATE INDEX parties_name ON parties(name);

-- Which party a case names: append-only; the latest row (highest seq) is current.
CREATE TABLE case_parties (
    case_id   TEXT NOT NULL REFERENCES cases(id),
    seq       BIGINT NOT NULL,
    party_id  TEXT NOT NULL REFERENCES parties(id),
    at        TIMESTAMPTZ NOT NULL,
    by_person TEXT,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_parties_party ON case_parties(party_id, at);

-- Enforcement steps: one row per step of a record, append-only; (record_id, seq) is the
-- optimistic-concurrency guard (two steps racing for one seq: one wins).
CREATE TABLE enforcement_steps (
    record_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    case_id     TEXT NOT NULL REFERENCES cases(id),
    party_id    TEXT NOT NULL REFERENCES parties(id),
    unit_id     TEXT,
    kind        TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    body        TEXT NOT NULL,
    recorded_by TEXT,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (record_id, seq)
);
CREATE INDEX enforcement_steps_case ON enforcement_steps(case_id, record_id, seq);
CREATE INDEX enforcement_steps_party ON enforcement_steps(party_id, record_id, seq);

CREATE FUNCTION enforcement_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER case_parties_no_update BEFORE UPDATE OR DELETE ON case_parties
FOR EACH ROW EXECUTE FUNCTION enforcement_append_only();
CREATE TRIGGER enforcement_steps_no_update BEFORE UPDATE OR DELETE ON enforcement_steps
FOR EACH ROW EXECUTE FUNCTION enforcement_append_only();
