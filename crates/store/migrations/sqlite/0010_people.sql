-- People who log in to the console (passwords as argon2id PHC strings only) and their sessions
-- (tokens as SHA-256 only).
CREATE TABLE person (
    username         TEXT PRIMARY KEY,
    affiliate        TEXT NOT NULL,
    role             TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    disabled         INTEGER NOT NULL DEFAULT 0,
    failed_logins    INTEGER NOT NULL DEFAULT 0,
    locked_until_ms  INTEGER NOT NULL DEFAULT 0,
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
