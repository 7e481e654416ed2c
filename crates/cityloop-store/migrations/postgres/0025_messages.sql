-- Messages to citizens (issue 16): the outbox of SMS and e-mail messages, written in the
-- transaction of the case event that causes them (the receipt, the 回访 invitation) or of
-- the one-time code's issue, and the one-time codes of "my reports" (hashed, keyed by
-- phone digits). A message is 'pending' until its channel takes it ('delivered') or its
-- retry schedule is exhausted ('dead'), the same statuses as webhook deliveries.
-- Keep in step with the sqlite tree.
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    dedupe_key      TEXT NOT NULL UNIQUE,
    purpose         TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    case_id         TEXT REFERENCES cases(id),
    params          TEXT NOT NULL,
    body            TEXT,
    status          TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    provider        TEXT
);
CREATE INDEX messages_due ON messages(status, next_attempt_at);
CREATE INDEX messages_recent ON messages(created_at);
CREATE INDEX messages_case ON messages(case_id);

CREATE TABLE otp_codes (
    phone        TEXT PRIMARY KEY,
    code_hash    TEXT,
    expires_at   TIMESTAMPTZ NOT NULL,
    wrong        BIGINT NOT NULL,
    locked_until TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL
);
