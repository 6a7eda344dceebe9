-- Early warnings (issue 6): bulletins and their recipients, frozen at issue time.

CREATE TABLE warnings (
    id                uuid PRIMARY KEY,
    title             text NOT NULL,
    level             text NOT NULL,
    spec              jsonb NOT NULL,  -- NewWarning (targets included)
    issued_by         text NOT NULL,
    issued_at         timestamptz NOT NULL,
    response_deadline timestamptz
);
CREATE INDEX warnings_issued ON warnings (issued_at DESC, id DESC);
CREATE INDEX warnings_level_issued ON warnings (level, issued_at DESC, id DESC);

-- One row per addressed organization. Deleting an organization removes its rows; the
-- warning stays for the others.
CREATE TABLE warning_recipients (
    warning_id      uuid NOT NULL REFERENCES warnings (id) ON DELETE CASCADE,
    org_id          uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    delivered_at    timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    response        text,
    PRIMARY KEY (warning_id, org_id)
);
CREATE INDEX warning_recipients_org ON warning_recipients (org_id, warning_id);
