-- Sensor intake (issue 19, 污染防治联动): sites, their devices, each (device, rule)'s alarm
-- state and what the episodes recorded on their cases. Keep in step with the sqlite tree.
-- A site or device is written only through admin_apply (with its admin_audit row).
CREATE TABLE sensor_sites (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- `secret_hash` is the SHA-256 (hex) of the device's secret; the secret is shown once.
-- `last_seen_at` is the server time of the last accepted reading; `offline_case_id` the
-- open 设备离线 case while the device is (or was last) silent.
CREATE TABLE sensor_devices (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sensor_sites(id),
    secret_hash     TEXT NOT NULL,
    body            TEXT NOT NULL,
    last_seen_at    TIMESTAMPTZ,
    last_status     TEXT,
    offline_case_id TEXT REFERENCES cases(id),
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX sensor_devices_site ON sensor_devices(site_id);

-- The persisted cityloop_domain::sensor::RuleState (JSON) of one rule on one device and
-- the case of its current or last episode: a restart continues a hold where it was.
CREATE TABLE sensor_rule_states (
    device_id  TEXT NOT NULL REFERENCES sensor_devices(id),
    rule_id    TEXT NOT NULL,
    state      TEXT NOT NULL,
    case_id    TEXT REFERENCES cases(id),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device_id, rule_id)
);

-- What a sensor recorded on a case (opened, reopened, cleared, offline, back online) with
-- the episode's figures (peak, mean, duration) as JSON: one row per change, not per
-- reading. Append-only like case_events.
CREATE TABLE sensor_case_log (
    id        TEXT PRIMARY KEY,
    case_id   TEXT NOT NULL REFERENCES cases(id),
    device_id TEXT NOT NULL REFERENCES sensor_devices(id),
    rule_id   TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    kind      TEXT NOT NULL,
    summary   TEXT NOT NULL
);
CREATE INDEX sensor_case_log_case ON sensor_case_log(case_id, at);
CREATE FUNCTION sensor_case_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'sensor_case_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER sensor_case_log_no_change BEFORE UPDATE OR DELETE ON sensor_case_log
FOR EACH ROW EXECUTE FUNCTION sensor_case_log_append_only();
