-- 0001: keys, generations, images and the blobs they point at.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    hash        BLOB NOT NULL UNIQUE,      -- SHA-256 of the whole key
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,          -- unix seconds
    revoked_at  INTEGER
);

CREATE TABLE generations (
    id           TEXT PRIMARY KEY,
    key_id       TEXT,
    request_id   TEXT,
    model        TEXT NOT NULL,
    provider     TEXT NOT NULL,
    prompt       TEXT NOT NULL,
    params       TEXT NOT NULL,            -- the normalized request as JSON
    n            INTEGER NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    status       TEXT NOT NULL,
    error        TEXT,
    created_at   INTEGER NOT NULL,         -- unix milliseconds
    completed_at INTEGER,
    latency_us   INTEGER
);
CREATE INDEX generations_by_key ON generations (key_id, created_at);

CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    format      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE images (
    generation_id TEXT NOT NULL REFERENCES generations (id),
    idx           INTEGER NOT NULL,
    sha256        TEXT NOT NULL REFERENCES blobs (sha256),
    seed          INTEGER,
    PRIMARY KEY (generation_id, idx)
);
CREATE INDEX images_by_blob ON images (sha256);
