-- A merged case (合并, action `merge`) names its master in the view
-- (`merged_into.case_id`); the master's reporters and the Open311 answer of the merged
-- request are found through this column. A virtual generated column read from the view,
-- so the write path does not change; only merged cases carry a value.
ALTER TABLE cases ADD COLUMN merged_into TEXT GENERATED ALWAYS AS (
    json_extract(view, '$.merged_into.case_id')
) VIRTUAL;
CREATE INDEX cases_merged_into ON cases(merged_into, created_at) WHERE merged_into IS NOT NULL;
