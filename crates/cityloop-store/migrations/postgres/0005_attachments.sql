-- Uploaded photos (one row per distinct content). Keep in step with the sqlite tree.
CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    mime        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    public_size BIGINT NOT NULL,
    width       BIGINT NOT NULL,
    height      BIGINT NOT NULL,
    gps_lat     DOUBLE PRECISION,
    gps_lon     DOUBLE PRECISION,
    uploaded_by TEXT REFERENCES people(id),
    channel     TEXT NOT NULL,
    uploaded_at TIMESTAMPTZ NOT NULL
);
