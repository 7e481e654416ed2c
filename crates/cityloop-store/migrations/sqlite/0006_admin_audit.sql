-- Admin audit log: one row per admin change, written in the change's own transaction.
-- Append-only (triggers refuse UPDATE and DELETE). Keep in step with the postgres tree.
CREATE TABLE admin_audit (
    id        TEXT PRIMARY KEY,
    at        TEXT NOT NULL,
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

CREATE TRIGGER admin_audit_no_update BEFORE UPDATE ON admin_audit
BEGIN SELECT RAISE(ABORT, 'admin_audit is append-only'); END;
CREATE TRIGGER admin_audit_no_delete BEFORE DELETE ON admin_audit
BEGIN SELECT RAISE(ABORT, 'admin_audit is append-only'); END;
