-- A merged case (合并, action `merge`) names its master in the view
-- (`merged_into.case_id`); the same column and index as migrations/sqlite/0022 (a stored
-- generated column here). Only merged cases carry a value.
ALTER TABLE cases ADD COLUMN merged_into TEXT GENERATED ALWAYS AS (
    (view::jsonb -> 'merged_into' ->> 'case_id')
) STORED;
CREATE INDEX cases_merged_into ON cases(merged_into, created_at) WHERE merged_into IS NOT NULL;
