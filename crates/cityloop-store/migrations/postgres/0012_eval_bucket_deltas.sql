-- Evaluation counters without hot rows (issue 14): on PostgreSQL each write appends its
-- bucket differences here instead of updating the shared day × object rows; a background
-- pass (`PgStore::fold_eval_deltas`, every 500 ms) moves them into eval_buckets and
-- eval_buckets_month in one transaction. Readers sum the buckets and these rows in one
-- statement, so rankings are exact at all times. SQLite's single writer updates the
-- buckets directly and leaves this table empty. Derived data: `eval_rebuild` clears it.
-- Keep in step with the sqlite tree.
CREATE TABLE eval_bucket_deltas (
    object_kind TEXT NOT NULL,
    day         INTEGER NOT NULL,
    object_id   TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       BIGINT NOT NULL
);
CREATE INDEX eval_bucket_deltas_day ON eval_bucket_deltas(object_kind, day);
