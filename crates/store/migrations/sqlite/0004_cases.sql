-- Stage 3, the safety table's own tables (not any affiliate's): reports from victims and
-- affiliates, the cases they join, the hash-chained audit log, and follow-up actions for the
-- affiliates' webhooks. Reports and cases hold what relief work needs (the fraud account to
-- suspend, the victim's claim); only the group's analysts read them.

CREATE TABLE report (
    receipt      TEXT PRIMARY KEY,
    secret_hash  BLOB NOT NULL,
    source       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    case_id      INTEGER NOT NULL,
    priority     INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX report_by_case ON report (case_id);

CREATE TABLE fraud_case (
    id               INTEGER PRIMARY KEY,
    state            TEXT NOT NULL,
    outcome          TEXT,
    priority         INTEGER NOT NULL,
    assignee         TEXT,
    opened_ms        INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL,
    sla_due_ms       INTEGER NOT NULL,
    first_action_ms  INTEGER,
    body             TEXT NOT NULL
) STRICT;
CREATE INDEX case_queue ON fraud_case (state, priority DESC, opened_ms);

-- The case each indicator (digest under the group key) belongs to: a report about an
-- indicator already in a case joins that case.
CREATE TABLE case_indicator (
    digest   BLOB PRIMARY KEY,
    case_id  INTEGER NOT NULL
) STRICT;

-- Append-only, hash-chained: hash = SHA-256(prev hash, seq, time, actor, case, action, detail).
CREATE TABLE audit (
    seq      INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    case_id  INTEGER,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL,
    prev     BLOB NOT NULL,
    hash     BLOB NOT NULL
) STRICT;

-- Follow-up actions (hold an account, sanction a profile, notify a victim) for one affiliate's
-- webhook, delivered at least once, idempotent by id, dead-lettered after the last retry.
CREATE TABLE action (
    id            TEXT PRIMARY KEY,
    affiliate     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_ms       INTEGER NOT NULL,
    delivered_ms  INTEGER,
    dead_ms       INTEGER,
    last_error    TEXT
) STRICT;
CREATE INDEX action_due ON action (next_ms) WHERE delivered_ms IS NULL AND dead_ms IS NULL;

CREATE TABLE webhook (
    affiliate   TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
) STRICT;

-- Which affiliate holds what a follow-up acts on: `bank:088` (accounts of a bank code),
-- `profile` (messenger profiles), `phone`. Each affiliate declares its own.
CREATE TABLE holder (
    key        TEXT PRIMARY KEY,
    affiliate  TEXT NOT NULL
) STRICT;
