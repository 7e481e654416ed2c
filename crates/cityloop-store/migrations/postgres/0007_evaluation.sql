-- Evaluation (综合评价): additive day buckets kept in the same transaction as case events,
-- each case's current contributions (for drill-down and exact diffs), and road-chief
-- patrols. Derived tables, rebuilt from case_events by `Store::eval_rebuild`.
-- Keep in step with the sqlite tree.
CREATE TABLE eval_buckets (
    object_kind TEXT NOT NULL,
    day         INTEGER NOT NULL,
    object_id   TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (object_kind, day, object_id, metric)
);

CREATE TABLE eval_case_counters (
    case_id     TEXT NOT NULL REFERENCES cases(id),
    object_kind TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    metric      TEXT NOT NULL,
    day         INTEGER NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (case_id, object_kind, object_id, metric, day)
);
CREATE INDEX eval_case_counters_object ON eval_case_counters(object_kind, object_id, metric, day);

CREATE TABLE patrols (
    id         TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people(id),
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX patrols_person ON patrols(person_id, started_at);
CREATE INDEX patrols_started ON patrols(started_at);
