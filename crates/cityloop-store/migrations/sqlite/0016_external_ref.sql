-- A staff report's external reference (a 12345 ticket number, 工单号) is unique per
-- source: registering the same ticket twice is refused (the service answers 409 naming
-- `external_ref`). `external_ref` is a virtual generated column read from the case view,
-- so the write path does not change; public reports are left out (there the view's
-- external_ref is the Open311 client's idempotency scope, shared by its reports).
-- An existing database that already holds two staff cases with the same (source,
-- external_ref) fails this migration; find them with
--   SELECT source, external_ref, count(*) FROM cases GROUP BY 1, 2 HAVING count(*) > 1;
ALTER TABLE cases ADD COLUMN external_ref TEXT GENERATED ALWAYS AS (
    CASE WHEN source = 'public' THEN NULL ELSE json_extract(view, '$.external_ref') END
) VIRTUAL;
CREATE UNIQUE INDEX cases_external_ref ON cases(source, external_ref)
    WHERE external_ref IS NOT NULL;
