-- Dead letters (issue 4): input the pipeline could not turn into an event, with the reason
-- and the raw bytes (at most 64 KiB kept, raw_len the original length). search_text is the
-- lowercased detail, sender and raw bytes as text, for case-insensitive search. Pruned by
-- the pipeline to a bounded number of rows and days. org_id has no foreign key, as on SQLite.

CREATE TABLE dead_letters (
    id          uuid PRIMARY KEY,
    received_at timestamptz NOT NULL,
    source      text NOT NULL,
    sender      text,
    reason      text NOT NULL CHECK (reason IN ('parse', 'oversized', 'unattributed', 'invalid')),
    detail      text NOT NULL,
    raw         bytea NOT NULL,
    raw_len     bigint NOT NULL,
    org_id      uuid,
    search_text text NOT NULL
);

CREATE INDEX dead_letters_time ON dead_letters (received_at DESC, id DESC);
CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at DESC, id DESC);
CREATE INDEX dead_letters_source ON dead_letters (source, received_at DESC, id DESC);
CREATE INDEX dead_letters_org ON dead_letters (org_id, received_at DESC, id DESC)
    WHERE org_id IS NOT NULL;
