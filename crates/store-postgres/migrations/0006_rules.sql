-- The daily rule rollup: how often each rule matched an affiliate's decisions on one Korea-time
-- day, kept up to date in each commit's transaction (the yearly report's top rules).
CREATE TABLE rule_day (
    day        BIGINT NOT NULL,
    rule       TEXT NOT NULL,
    affiliate  TEXT NOT NULL,
    hits       BIGINT NOT NULL,
    PRIMARY KEY (day, rule, affiliate)
);
