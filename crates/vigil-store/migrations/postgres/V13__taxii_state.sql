-- TAXII state kept across restarts (issue 5): the polling state of each configured TAXII
-- feed (so a restarted node continues after the stored watermark), and the status resources
-- of writes to Vigil's TAXII server (so `GET status/{id}/` survives a restart).

CREATE TABLE taxii_feeds (
    name                 text PRIMARY KEY,
    collection_url       text NOT NULL,
    watermark            timestamptz,
    last_attempt_at      timestamptz,
    last_success_at      timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    polls                bigint NOT NULL DEFAULT 0,
    failures             bigint NOT NULL DEFAULT 0,
    objects_imported     bigint NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL
);

CREATE TABLE taxii_statuses (
    id         text PRIMARY KEY,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX taxii_statuses_created ON taxii_statuses (created_at);
