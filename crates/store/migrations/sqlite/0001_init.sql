-- ansim embedded store, schema version 1. Times are epoch milliseconds; JSON is text.

CREATE TABLE affiliate (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
) STRICT;

-- API keys: only the SHA-256 of the key is kept, plus a short prefix to recognise it.
CREATE TABLE api_key (
    hash        BLOB PRIMARY KEY,
    prefix      TEXT NOT NULL,
    affiliate   TEXT NOT NULL REFERENCES affiliate(id),
    scopes      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Every decided event with its decision. seq orders an affiliate's events for replay.
CREATE TABLE event (
    affiliate    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    decision_id  TEXT NOT NULL,
    at_ms        INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    verdict      TEXT NOT NULL,
    score        INTEGER NOT NULL,
    ruleset      TEXT NOT NULL,
    event_json   TEXT NOT NULL,
    decision_json TEXT NOT NULL,
    decided_ms   INTEGER NOT NULL,
    PRIMARY KEY (affiliate, seq)
) STRICT;
-- Decision ids carry their sequence number, so they need no index of their own.
CREATE UNIQUE INDEX event_by_id ON event (affiliate, event_id);

-- Ruleset versions; at most one per affiliate is active, the draft is kept apart.
CREATE TABLE ruleset (
    affiliate    TEXT NOT NULL,
    version      INTEGER NOT NULL,
    source       TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    active       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (affiliate, version)
) STRICT;

CREATE TABLE ruleset_draft (
    affiliate    TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    updated_ms   INTEGER NOT NULL
) STRICT;

-- Feature-state snapshots: the state after the affiliate's event `seq` was decided.
CREATE TABLE feature_snapshot (
    affiliate    TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL,
    state        BLOB NOT NULL,
    saved_ms     INTEGER NOT NULL
) STRICT;

-- Side effects of decisions, written in the same transaction, delivered after commit.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    affiliate    TEXT NOT NULL,
    topic        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    delivered_ms INTEGER
) STRICT;
CREATE INDEX outbox_pending ON outbox (delivered_ms, id);
