-- Prevention campaigns and their members (one row per user enrolled, with the arm the keyed
-- hold-out put them in), and on reports the user and won an affiliate's report is about, so a
-- campaign's outcomes are a join, not a scan of report bodies.
CREATE TABLE campaign (
    id          TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

CREATE TABLE campaign_member (
    campaign     TEXT NOT NULL,
    affiliate    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    control      SMALLINT NOT NULL,
    enrolled_ms  BIGINT NOT NULL,
    PRIMARY KEY (campaign, affiliate, subject)
);

ALTER TABLE report ADD COLUMN subject TEXT;
ALTER TABLE report ADD COLUMN amount BIGINT NOT NULL DEFAULT 0;
CREATE INDEX report_by_subject ON report (source, subject) WHERE subject IS NOT NULL;
