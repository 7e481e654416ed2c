-- Patrols on the ground (路长巡查, issue 21): a patrol started on a phone, its trail uploaded
-- in batches (idempotent per batch id), and the result written when it ends. An ended run
-- also has its `patrols` row (migration 0007), which the rankings read. Keep in step with
-- the postgres tree.
CREATE TABLE patrol_runs (
    id         TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people(id),
    started_at TEXT NOT NULL,
    -- NULL while the patrol runs; set once (ending twice is refused).
    ended_at   TEXT,
    -- Trail points stored so far (the limit is checked against it in the batch's transaction).
    points     INTEGER NOT NULL DEFAULT 0,
    -- The result when ended (coverage, dropped points, no-GPS reason), JSON.
    body       TEXT
);
CREATE INDEX patrol_runs_person ON patrol_runs(person_id, started_at);

CREATE TABLE patrol_batches (
    patrol_id   TEXT NOT NULL REFERENCES patrol_runs(id),
    batch_id    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    n_points    INTEGER NOT NULL,
    -- The points as sent, JSON (a retry must send the same).
    points      TEXT NOT NULL,
    PRIMARY KEY (patrol_id, batch_id)
);
