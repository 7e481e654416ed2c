-- The Open311 list (`GET /open311/v2/requests`) as one indexed query instead of a scan
-- filtered in the application. `open311_code` is the case's service_code when the case
-- is published (not a 12345 hotline, petition or leader case) and its category is of the
-- kind a service_code names (not a GB/T 47678.5 component); NULL otherwise. A stored
-- generated column (computed from the row), so the write path does not change; the same
-- column as migrations/sqlite/0010 (virtual there). Both indexes order by (created_at,
-- id), the keyset.
ALTER TABLE cases ADD COLUMN open311_code TEXT GENERATED ALWAYS AS (
    CASE
        WHEN source IN ('hotline_12345', 'petition', 'leader') THEN NULL
        WHEN (view::jsonb #>> '{category,standard}') = 'gb47678'
         AND (view::jsonb #>> '{category,kind}') <> 'matter' THEN NULL
        ELSE category_code
    END
) STORED;

-- Every published case, newest first (the unfiltered list and its deep pages); `state`
-- and `updated_at` ride along for index-only filtering.
CREATE INDEX cases_open311 ON cases(created_at, id) INCLUDE (state, updated_at)
    WHERE open311_code IS NOT NULL;
-- The list filtered by service_code.
CREATE INDEX cases_open311_code ON cases(open311_code, created_at, id) INCLUDE (state, updated_at);
