-- Notification outbox (issue 6, item 7): one row per message to one recipient on one
-- channel. `due_at` is when a worker may take it next: the retry time while pending, the end
-- of the lease while sending, NULL once sent or failed.
CREATE TABLE notify_deliveries (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    channel         text NOT NULL,
    kind            text NOT NULL,
    recipient       text NOT NULL,
    reference_kind  text NOT NULL,
    reference_id    text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    max_attempts    integer NOT NULL,
    not_before      timestamptz NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL,
    last_error      text,
    due_at          timestamptz,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX notify_deliveries_created ON notify_deliveries (created_at DESC, id DESC);
CREATE INDEX notify_deliveries_org ON notify_deliveries (org_id, created_at DESC, id DESC);
CREATE INDEX notify_deliveries_reference
    ON notify_deliveries (reference_kind, reference_id, created_at DESC, id DESC);
