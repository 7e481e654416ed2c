-- Open311 client applications and idempotent intake. Keep in step with the postgres tree.
CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- One row per (client scope, idempotency key): the case that key created.
CREATE TABLE idempotency (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
