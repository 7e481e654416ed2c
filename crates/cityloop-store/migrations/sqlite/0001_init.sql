-- cityloop schema, SQLite dialect. Keep in step with migrations/postgres/0001_init.sql:
-- same tables, same columns, same names; only types and triggers differ.

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE categories (
    standard    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    code        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (standard, kind, code)
);

CREATE TABLE units (
    id       TEXT PRIMARY KEY,
    code     TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    type_key TEXT NOT NULL,
    body     TEXT NOT NULL
);

CREATE TABLE people (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    unit_id       TEXT REFERENCES units(id),
    password_hash TEXT NOT NULL,
    body          TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE territory_layers (
    name       TEXT PRIMARY KEY,
    geojson    TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE case_seq (
    scope TEXT PRIMARY KEY,
    last  INTEGER NOT NULL
);

-- The current view of each case, derived from case_events in the same transaction.
CREATE TABLE cases (
    id            TEXT PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL,
    source        TEXT NOT NULL,
    category_code TEXT NOT NULL,
    unit_id       TEXT,
    street_code   TEXT,
    segment_id    TEXT,
    lon           REAL NOT NULL,
    lat           REAL NOT NULL,
    deadline      TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       INTEGER NOT NULL,
    view          TEXT NOT NULL
);
CREATE INDEX cases_state ON cases(state, created_at, id);
CREATE INDEX cases_unit ON cases(unit_id, state);
CREATE INDEX cases_updated ON cases(updated_at, id);
CREATE INDEX cases_created ON cases(created_at, id);

-- Append-only history. The triggers make UPDATE and DELETE fail.
CREATE TABLE case_events (
    case_id    TEXT NOT NULL REFERENCES cases(id),
    seq        INTEGER NOT NULL,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    actor_id   TEXT,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_events_at ON case_events(at);

CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END;
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END;
