-- The daily trend rollup: decisions per Korea-time day and kind, verdict, typology, age band
-- and amount band, with the amounts they moved; kept up to date in each commit's transaction.
CREATE TABLE trend_day (
    affiliate   TEXT NOT NULL,
    day         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    typology    TEXT NOT NULL,
    age_band    TEXT NOT NULL,
    amount_band TEXT NOT NULL,
    decisions   INTEGER NOT NULL,
    amount      INTEGER NOT NULL,
    PRIMARY KEY (affiliate, day, kind, verdict, typology, age_band, amount_band)
);
CREATE INDEX trend_day_by_day ON trend_day (day);
