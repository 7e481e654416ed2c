-- A staff report's external reference (a 12345 ticket number, 工单号) is unique per
-- source; the same column and index as migrations/sqlite/0016 (a stored generated column
-- here). Public reports are left out: their view's external_ref is the Open311 client's
-- idempotency scope, shared by its reports. An existing database that already holds two
-- staff cases with the same (source, external_ref) fails this migration; find them with
--   SELECT source, external_ref, count(*) FROM cases GROUP BY 1, 2 HAVING count(*) > 1;
ALTER TABLE cases ADD COLUMN external_ref TEXT GENERATED ALWAYS AS (
    CASE WHEN source = 'public' THEN NULL ELSE (view::jsonb ->> 'external_ref') END
) STORED;
CREATE UNIQUE INDEX cases_external_ref ON cases(source, external_ref)
    WHERE external_ref IS NOT NULL;
