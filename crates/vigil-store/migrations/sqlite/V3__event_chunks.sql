-- Events move from one row per event (twelve B-tree indexes, about 40,000 events/s) to
-- compressed chunks of up to 1,024 events of one organization with chunk-level postings
-- (src/sqlite/chunk.rs says why and how). The rows of `events` are converted by the Rust
-- step of this migration (events::convert_legacy), which keeps their ids, and the old
-- table is dropped after it.
CREATE TABLE event_chunks (
    first_id INTEGER PRIMARY KEY,   -- the chunk's events have ids first_id .. first_id + count - 1
    org_id   TEXT NOT NULL,
    count    INTEGER NOT NULL,
    live     INTEGER NOT NULL,      -- events not deleted by retention
    ts_min   INTEGER NOT NULL,      -- earliest event time of the live events, µs
    ts_max   INTEGER NOT NULL,      -- latest event time, µs
    ts       BLOB NOT NULL,         -- event times, count × i64 little-endian
    deleted  BLOB,                  -- positions deleted by retention, NULL when none
    body     BLOB NOT NULL          -- zstd frame of the events (last: read only when needed)
) STRICT;
-- Newest-first walks, across organizations and within one; retention oldest first. Every
-- SQLite index ends with the rowid, so (ts_max) orders by (ts_max, first_id).
CREATE INDEX event_chunks_ts ON event_chunks (ts_max);
CREATE INDEX event_chunks_org_ts ON event_chunks (org_id, ts_max);
CREATE INDEX event_chunks_ts_min ON event_chunks (ts_min);

-- One row per distinct indexed value of a chunk: vigil_model::INDEXED_FIELDS by position,
-- 12 for asset_id. Keyed by chunk first, so appends only touch the end of the tree.
CREATE TABLE event_terms (
    chunk     INTEGER NOT NULL,
    field     INTEGER NOT NULL,
    value     TEXT NOT NULL,
    positions BLOB NOT NULL,
    PRIMARY KEY (chunk, field, value)
) STRICT, WITHOUT ROWID;

-- The next event id; ids are never reused, even after retention deleted the newest chunk.
CREATE TABLE event_seq (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    next_id INTEGER NOT NULL
) STRICT;
INSERT INTO event_seq (one, next_id) SELECT 1, coalesce(max(id), 0) + 1 FROM events;
