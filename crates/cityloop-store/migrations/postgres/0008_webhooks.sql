-- Outgoing webhooks: subscriptions, the outbox of deliveries (written in the same
-- transaction as the case event or escalation that triggers them) and every attempt.
-- A delivery is 'pending' until a 2xx answer ('delivered') or until its retry schedule
-- is exhausted ('dead', the dead letter). Keep in step with the sqlite tree.
CREATE TABLE webhook_subscriptions (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    event_types TEXT NOT NULL,
    active      BOOLEAN NOT NULL,
    description TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id),
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    case_id         TEXT REFERENCES cases(id),
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_sub ON webhook_deliveries(subscription_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt     BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    status_code BIGINT,
    error       TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
