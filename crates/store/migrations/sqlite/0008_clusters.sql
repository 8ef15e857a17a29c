-- The daily indicator rollup: how often one indicator (a keyed digest of an account, phone or
-- device; a link domain family; a phrase) was seen in an affiliate's protective decisions and
-- reports on one Korea-time day, kept up to date in each commit's transaction.
CREATE TABLE cluster_day (
    day        INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    affiliate  TEXT NOT NULL,
    decisions  INTEGER NOT NULL,
    reports    INTEGER NOT NULL,
    PRIMARY KEY (day, kind, value, affiliate)
) STRICT, WITHOUT ROWID;
