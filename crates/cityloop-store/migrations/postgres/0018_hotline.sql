-- The 12345 bridge (issue 18): one row per platform work order (工单号), linked to the
-- case it became, with the latest copy as pushed and its fingerprint (a repeat is the same
-- fingerprint; a changed copy is an update), the platform's own deadline (natural days),
-- the flags an operator resolves (unmapped 诉求类型, not placed on the map), and the
-- bridge's log of what the platform and staff said (received, updated, urged, withdrawn,
-- supplemented, progress). Outbound calls travel through webhook_deliveries.
-- Keep in step with the sqlite tree.
CREATE TABLE hotline_orders (
    ticket_no         TEXT PRIMARY KEY,
    case_id           TEXT NOT NULL UNIQUE REFERENCES cases(id),
    fingerprint       TEXT NOT NULL,
    body              TEXT NOT NULL,
    platform_deadline TIMESTAMPTZ,
    category_mapped   BOOLEAN NOT NULL,
    placed            BOOLEAN NOT NULL,
    withdrawn_at      TIMESTAMPTZ,
    received_at       TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE hotline_log (
    id        TEXT PRIMARY KEY,
    ticket_no TEXT NOT NULL REFERENCES hotline_orders(ticket_no),
    kind      TEXT NOT NULL,
    body      TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX hotline_log_ticket ON hotline_log(ticket_no, at);
