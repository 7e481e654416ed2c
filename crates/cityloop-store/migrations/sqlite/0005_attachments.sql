-- Uploaded photos: one row per distinct content (sha256). The bytes are files in the
-- media folder named by the hash (original and a public copy without EXIF/XMP); the
-- EXIF GPS position of the original is kept here. Keep in step with the postgres tree.
CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    mime        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    public_size INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    gps_lat     REAL,
    gps_lon     REAL,
    uploaded_by TEXT REFERENCES people(id),
    channel     TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);
