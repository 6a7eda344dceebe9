-- Notification outbox (issue 6, item 7): one row per message to one recipient on one
-- channel. `due_at` is when a worker may take it next: the retry time while pending, the end
-- of the lease while sending, NULL once sent or failed.
CREATE TABLE notify_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    reference_kind  TEXT NOT NULL,
    reference_id    TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    max_attempts    INTEGER NOT NULL,
    not_before      INTEGER NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT,
    due_at          INTEGER,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX notify_deliveries_due ON notify_deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX notify_deliveries_created ON notify_deliveries (created_at, id);
CREATE INDEX notify_deliveries_org ON notify_deliveries (org_id, created_at, id);
CREATE INDEX notify_deliveries_reference
    ON notify_deliveries (reference_kind, reference_id, created_at, id);
