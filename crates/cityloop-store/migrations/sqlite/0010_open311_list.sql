-- The Open311 list (`GET /open311/v2/requests`) as one indexed query instead of a scan
-- filtered in the application. `open311_code` is the case's service_code when the case
-- is published (not a 12345 hotline, petition or leader case) and its category is of the
-- kind a service_code names (not a GB/T 47678.5 component); NULL otherwise. It is a
-- virtual generated column (computed from the row; SQLite can add only virtual ones), so
-- the write path does not change. Both indexes order by (created_at, id), the keyset.
ALTER TABLE cases ADD COLUMN open311_code TEXT GENERATED ALWAYS AS (
    CASE
        WHEN source IN ('hotline_12345', 'petition', 'leader') THEN NULL
        WHEN json_extract(view, '$.category.standard') = 'gb47678'
         AND json_extract(view, '$.category.kind') <> 'matter' THEN NULL
        ELSE category_code
    END
) VIRTUAL;

-- Every published case, newest first (the unfiltered list and its deep pages). `state`
-- and `updated_at` ride along so status and updated_* filters and the OFFSET of a deep
-- page are decided from the index without reading the row.
CREATE INDEX cases_open311 ON cases(created_at, id, state, updated_at)
    WHERE open311_code IS NOT NULL;
-- The list filtered by service_code.
CREATE INDEX cases_open311_code ON cases(open311_code, created_at, id, state, updated_at);
