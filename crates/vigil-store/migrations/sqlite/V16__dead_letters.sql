-- Dead letters (issue 4): input the pipeline could not turn into an event, with the reason
-- and the raw bytes (at most 64 KiB kept, raw_len the original length). search_text is the
-- lowercased detail, sender and raw bytes as text, for case-insensitive search. Pruned by
-- the pipeline to a bounded number of rows and days.

CREATE TABLE dead_letters (
    id          TEXT PRIMARY KEY NOT NULL,
    received_at INTEGER NOT NULL,
    source      TEXT NOT NULL,
    sender      TEXT,
    reason      TEXT NOT NULL CHECK (reason IN ('parse', 'oversized', 'unattributed', 'invalid')),
    detail      TEXT NOT NULL,
    raw         BLOB NOT NULL,
    raw_len     INTEGER NOT NULL,
    org_id      TEXT,
    search_text TEXT NOT NULL
) STRICT;

CREATE INDEX dead_letters_time ON dead_letters (received_at DESC, id DESC);
CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at DESC, id DESC);
CREATE INDEX dead_letters_source ON dead_letters (source, received_at DESC, id DESC);
CREATE INDEX dead_letters_org ON dead_letters (org_id, received_at DESC, id DESC)
    WHERE org_id IS NOT NULL;
