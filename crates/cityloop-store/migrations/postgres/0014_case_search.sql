-- Case search (issue 15), PostgreSQL dialect of migrations/sqlite/0014: the same
-- `case_search` columns; the free text is kept as its distinct bigram tokens under a
-- GIN index (`tokens @> ARRAY[...]`) and in plain form for the substring recheck of a
-- query longer than one bigram. Written by `search_index_in` in the transaction that
-- writes the case view; cases that exist before this migration are indexed when the
-- store opens (`search_backfill`).
--
-- The reversed digits are COLLATE "C" so a prefix range compares bytes, as in SQLite.
CREATE TABLE case_search (
    sort_key       BIGINT PRIMARY KEY,
    case_id        TEXT NOT NULL UNIQUE REFERENCES cases(id),
    created_at     TIMESTAMPTZ NOT NULL,
    state          TEXT NOT NULL,
    source         TEXT NOT NULL,
    category_code  TEXT NOT NULL,
    major_code     TEXT NOT NULL,
    unit_id        TEXT,
    street_code    TEXT,
    community_code TEXT,
    grid_code      TEXT,
    segment_id     TEXT,
    number_rev     TEXT COLLATE "C" NOT NULL,
    phone_rev      TEXT COLLATE "C",
    external_ref   TEXT,
    yellow_at      TIMESTAMPTZ,
    tokens         TEXT[] NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX case_search_number ON case_search(number_rev);
CREATE INDEX case_search_phone ON case_search(phone_rev) WHERE phone_rev IS NOT NULL;
CREATE INDEX case_search_ref ON case_search(external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX case_search_state ON case_search(state, sort_key);
CREATE INDEX case_search_unit ON case_search(unit_id, sort_key);
CREATE INDEX case_search_street ON case_search(street_code, sort_key);
CREATE INDEX case_search_community ON case_search(community_code, sort_key);
CREATE INDEX case_search_grid ON case_search(grid_code, sort_key);
CREATE INDEX case_search_category ON case_search(category_code, sort_key);
CREATE INDEX case_search_segment ON case_search(segment_id, sort_key);
CREATE INDEX case_search_tokens ON case_search USING GIN (tokens);

CREATE INDEX cases_deadline ON cases(deadline, id) WHERE deadline IS NOT NULL;
