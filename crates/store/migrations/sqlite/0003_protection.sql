-- Self-protection a user chose at an affiliate: delayed transfer, designated accounts only,
-- loan lock. `settings` is the JSON the application layer reads (active and pending parts).
CREATE TABLE protection (
    affiliate   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    settings    TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (affiliate, subject)
) STRICT;

-- Held transfers that the user cancelled inside the delay window, by event sequence number.
CREATE TABLE hold_cancel (
    affiliate     TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    cancelled_ms  INTEGER NOT NULL,
    PRIMARY KEY (affiliate, seq)
) STRICT;
