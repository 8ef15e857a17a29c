-- Schema version 2: the store numbers each affiliate's events. One counter row per affiliate,
-- locked by the commit that takes numbers from it, so two nodes committing the same
-- affiliate's events take turns and replay order is commit order, with no gaps.
CREATE TABLE event_seq (
    affiliate TEXT PRIMARY KEY,
    last      BIGINT NOT NULL
);
INSERT INTO event_seq (affiliate, last) SELECT affiliate, MAX(seq) FROM event GROUP BY affiliate;
