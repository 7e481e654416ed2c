-- Sensor readings stored compactly (issue 19 item 6). Keep in step with the postgres tree.
-- `sensor_minutes`: one row per device × metric × minute of device time, kept for good;
-- `minute` is the minute's start in Unix seconds (a multiple of 60), so a series groups
-- by integer division on both stores. `total` is the sum of the values (mean = total / n).
CREATE TABLE sensor_minutes (
    device_id TEXT    NOT NULL REFERENCES sensor_devices(id),
    metric    TEXT    NOT NULL,
    minute    INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    total     REAL    NOT NULL,
    min_v     REAL    NOT NULL,
    max_v     REAL    NOT NULL,
    PRIMARY KEY (device_id, metric, minute)
);

-- Raw readings, kept for the server's `--sensor-raw-days` and pruned by the sensor pass.
-- The primary key also makes a redelivered reading (MQTT at-least-once) count once in
-- `sensor_minutes`: it is added there only when its raw row is new.
CREATE TABLE sensor_readings (
    device_id   TEXT NOT NULL REFERENCES sensor_devices(id),
    metric      TEXT NOT NULL,
    at          TEXT NOT NULL,
    value       REAL NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (device_id, metric, at)
);
CREATE INDEX sensor_readings_at ON sensor_readings(at);
