-- Admin audit log: one row per admin change, written in the change's own transaction.
-- Append-only (a trigger refuses UPDATE and DELETE). Keep in step with the sqlite tree.
CREATE TABLE admin_audit (
    id        TEXT PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    actor_id  TEXT,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action    TEXT NOT NULL,
    before    TEXT,
    after     TEXT
);
CREATE INDEX admin_audit_at ON admin_audit(at, id);
CREATE INDEX admin_audit_entity ON admin_audit(entity, entity_id, at);
CREATE INDEX admin_audit_actor ON admin_audit(actor_id, at);

CREATE FUNCTION admin_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER admin_audit_no_update BEFORE UPDATE OR DELETE ON admin_audit
FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only();
