-- Road-chief assignments with history. Keep in step with the sqlite tree.
CREATE TABLE road_chief_assignments (
    id         TEXT PRIMARY KEY,
    segment_id TEXT NOT NULL,
    level      TEXT NOT NULL,
    person_id  TEXT NOT NULL REFERENCES people(id),
    valid_from TIMESTAMPTZ NOT NULL,
    valid_to   TIMESTAMPTZ
);
CREATE INDEX road_chief_current ON road_chief_assignments(segment_id, level, valid_to);
CREATE INDEX road_chief_person ON road_chief_assignments(person_id, valid_to);
