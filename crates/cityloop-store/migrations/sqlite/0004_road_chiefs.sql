-- Road-chief (路长) assignments per road segment and level, with history: a change closes
-- the current row (valid_to) and opens a new one. Keep in step with the postgres tree.
CREATE TABLE road_chief_assignments (
    id         TEXT PRIMARY KEY,
    segment_id TEXT NOT NULL,
    level      TEXT NOT NULL,
    person_id  TEXT NOT NULL REFERENCES people(id),
    valid_from TEXT NOT NULL,
    valid_to   TEXT
);
CREATE INDEX road_chief_current ON road_chief_assignments(segment_id, level, valid_to);
CREATE INDEX road_chief_person ON road_chief_assignments(person_id, valid_to);
