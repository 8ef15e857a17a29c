-- People who log in to the console (passwords as argon2id PHC strings only; an optional TOTP
-- secret with the last time step used, so a code is accepted once), their sessions
-- (tokens as SHA-256 only), and the indexes of the report inbox and of overdue cases.
CREATE TABLE person (
    username         TEXT PRIMARY KEY,
    affiliate        TEXT NOT NULL,
    role             TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    disabled         INTEGER NOT NULL DEFAULT 0,
    failed_logins    INTEGER NOT NULL DEFAULT 0,
    locked_until_ms  INTEGER NOT NULL DEFAULT 0,
    totp_secret      TEXT,
    totp_step        INTEGER NOT NULL DEFAULT 0,
    created_ms       INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL
) STRICT;
CREATE INDEX person_affiliate ON person (affiliate, username);

CREATE TABLE console_session (
    token_hash  BLOB PRIMARY KEY,
    username    TEXT NOT NULL REFERENCES person (username),
    csrf        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    seen_ms     INTEGER NOT NULL
) STRICT;
CREATE INDEX console_session_username ON console_session (username);

-- The console's report inbox reads the newest reports first.
CREATE INDEX report_by_created ON report (created_ms);

-- Open cases whose first action is overdue (the console's alerts).
CREATE INDEX case_first_action_due ON fraud_case (sla_due_ms) WHERE first_action_ms IS NULL AND state <> 'closed';
