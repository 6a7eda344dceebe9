-- TAXII state kept across restarts (issue 5): the polling state of each configured TAXII
-- feed (so a restarted node continues after the stored watermark), and the status resources
-- of writes to Vigil's TAXII server (so `GET status/{id}/` survives a restart).

CREATE TABLE taxii_feeds (
    name                 TEXT PRIMARY KEY NOT NULL,
    collection_url       TEXT NOT NULL,
    watermark            INTEGER,
    last_attempt_at      INTEGER,
    last_success_at      INTEGER,
    last_error           TEXT,
    last_error_at        INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    polls                INTEGER NOT NULL DEFAULT 0,
    failures             INTEGER NOT NULL DEFAULT 0,
    objects_imported     INTEGER NOT NULL DEFAULT 0,
    updated_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE taxii_statuses (
    id         TEXT PRIMARY KEY NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX taxii_statuses_created ON taxii_statuses (created_at);
