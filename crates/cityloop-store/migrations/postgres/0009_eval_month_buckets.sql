-- Month totals beside the day buckets (evaluation): a month's league table reads one row
-- per object and metric instead of one per day. Kept in the same transaction as the day
-- buckets (month = day / 100, days being yyyymmdd) and rebuilt with them.
CREATE TABLE eval_buckets_month (
    object_kind TEXT NOT NULL,
    month       INTEGER NOT NULL,
    object_id   TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (object_kind, month, object_id, metric)
);

INSERT INTO eval_buckets_month (object_kind, month, object_id, metric, value)
SELECT object_kind, day / 100, object_id, metric, SUM(value)
FROM eval_buckets
GROUP BY object_kind, day / 100, object_id, metric;
