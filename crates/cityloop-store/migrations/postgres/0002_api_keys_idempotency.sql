-- Open311 client applications and idempotent intake. Keep in step with the sqlite tree.
CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE idempotency (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
