-- Deadline escalations and notifications. Keep in step with the sqlite tree.
CREATE TABLE escalations (
    case_id   TEXT NOT NULL REFERENCES cases(id),
    clock_key TEXT NOT NULL,
    level     TEXT NOT NULL,
    fired_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, clock_key, level)
);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people(id),
    case_id    TEXT REFERENCES cases(id),
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at    TIMESTAMPTZ
);
CREATE INDEX notifications_person ON notifications(person_id, created_at);
