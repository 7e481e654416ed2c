-- Case search (issue 15): one row per case with the keys and filters a search reads,
-- and the case's free text in an FTS5 index. Written by `search_index_in` in the
-- transaction that writes the case view (cityloop-store/src/search.rs); cases that
-- exist before this migration are indexed when the store opens (`search_backfill`).
--
-- `sort_key` is the case's created_at in microseconds (made unique by +1 on a tie): the
-- rowid, so the reported-time order and its keyset are the table's own order, and the
-- FTS5 rowid, so a text search walks its matches newest first and stops at the page.
CREATE TABLE case_search (
    sort_key       INTEGER PRIMARY KEY,
    case_id        TEXT NOT NULL UNIQUE REFERENCES cases(id),
    created_at     TEXT NOT NULL,
    state          TEXT NOT NULL,
    source         TEXT NOT NULL,
    category_code  TEXT NOT NULL,
    major_code     TEXT NOT NULL,
    unit_id        TEXT,
    street_code    TEXT,
    community_code TEXT,
    grid_code      TEXT,
    segment_id     TEXT,
    -- digits of the case number and of the reporter's phone, last digit first: "the last
    -- digits" is a prefix, a range seek on the index
    number_rev     TEXT NOT NULL,
    phone_rev      TEXT,
    external_ref   TEXT,
    -- when the running clock turns yellow (NULL without a running clock)
    yellow_at      TEXT
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

-- The free text (description, address, road name, notes) as bigram tokens
-- (cityloop_domain::search::index_text); contentless, the text is not stored twice.
CREATE VIRTUAL TABLE case_fts USING fts5(
    body, content = '', contentless_delete = 1, tokenize = 'unicode61'
);

-- Deadline order and the overdue filter read the view's deadline.
CREATE INDEX cases_deadline ON cases(deadline, id) WHERE deadline IS NOT NULL;
