-- Parties and enforcement records (issue 20). Keep in step with the postgres tree.
-- parties: the person or organisation responsible for a problem. `id_number` is kept in
-- full and shaped on every read by the privacy table (full only to enforcement).
CREATE TABLE parties (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    credit_code TEXT UNIQUE,
    id_number   TEXT,
    address     TEXT,
    created_at  TEXT NOT NULL,
    created_by  TEXT
);
CREATE INDEX parties_name ON parties(name);

-- Which party a case names: append-only; the latest row (highest seq) is current.
CREATE TABLE case_parties (
    case_id   TEXT NOT NULL REFERENCES cases(id),
    seq       INTEGER NOT NULL,
    party_id  TEXT NOT NULL REFERENCES parties(id),
    at        TEXT NOT NULL,
    by_person TEXT,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_parties_party ON case_parties(party_id, at);

-- Enforcement steps: one row per step of a record, append-only; (record_id, seq) is the
-- optimistic-concurrency guard (two steps racing for one seq: one wins).
CREATE TABLE enforcement_steps (
    record_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    case_id     TEXT NOT NULL REFERENCES cases(id),
    party_id    TEXT NOT NULL REFERENCES parties(id),
    unit_id     TEXT,
    kind        TEXT NOT NULL,
    at          TEXT NOT NULL,
    body        TEXT NOT NULL,
    recorded_by TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (record_id, seq)
);
CREATE INDEX enforcement_steps_case ON enforcement_steps(case_id, record_id, seq);
CREATE INDEX enforcement_steps_party ON enforcement_steps(party_id, record_id, seq);

CREATE TRIGGER case_parties_no_update BEFORE UPDATE ON case_parties
BEGIN SELECT RAISE(ABORT, 'case_parties is append-only'); END;
CREATE TRIGGER case_parties_no_delete BEFORE DELETE ON case_parties
BEGIN SELECT RAISE(ABORT, 'case_parties is append-only'); END;
CREATE TRIGGER enforcement_steps_no_update BEFORE UPDATE ON enforcement_steps
BEGIN SELECT RAISE(ABORT, 'enforcement_steps is append-only'); END;
CREATE TRIGGER enforcement_steps_no_delete BEFORE DELETE ON enforcement_steps
BEGIN SELECT RAISE(ABORT, 'enforcement_steps is append-only'); END;
