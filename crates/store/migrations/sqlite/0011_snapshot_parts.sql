-- Feature-state snapshots in parts: each part holds the keys whose digest falls in it, taken
-- after event `seq`, so no snapshot holds an affiliate's decisions for the whole state at once.
-- Restore merges the parts and replays each key from its own part's number; a whole-state
-- snapshot in `feature_snapshot` (an earlier version's) stands in for parts not saved yet.
CREATE TABLE feature_snapshot_part (
    affiliate    TEXT NOT NULL,
    part         INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    state        BLOB NOT NULL,
    saved_ms     INTEGER NOT NULL,
    PRIMARY KEY (affiliate, part)
) STRICT;
