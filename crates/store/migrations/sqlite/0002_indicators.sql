-- The group's indicator registry: one row per (indicator digest, reporting affiliate). Only
-- HMAC digests are stored, never a raw phone number, account, URL or id.
CREATE TABLE indicator_report (
    digest      BLOB NOT NULL,
    kind        TEXT NOT NULL,
    affiliate   TEXT NOT NULL,
    typology    TEXT NOT NULL,
    status      TEXT NOT NULL,
    reports     INTEGER NOT NULL,
    first_ms    INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL,
    PRIMARY KEY (digest, affiliate)
) STRICT;
