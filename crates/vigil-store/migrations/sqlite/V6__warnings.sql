-- Early warnings (issue 6): bulletins and their recipients, frozen at issue time.

CREATE TABLE warnings (
    id                TEXT PRIMARY KEY NOT NULL,
    title             TEXT NOT NULL,
    level             TEXT NOT NULL,
    spec              TEXT NOT NULL,  -- JSON NewWarning (targets included)
    issued_by         TEXT NOT NULL,
    issued_at         INTEGER NOT NULL,
    response_deadline INTEGER
) STRICT;
CREATE INDEX warnings_issued ON warnings (issued_at, id);
CREATE INDEX warnings_level_issued ON warnings (level, issued_at, id);

-- One row per addressed organization. Deleting an organization removes its rows; the
-- warning stays for the others.
CREATE TABLE warning_recipients (
    warning_id      TEXT NOT NULL REFERENCES warnings (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    delivered_at    INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    response        TEXT,
    PRIMARY KEY (warning_id, org_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX warning_recipients_org ON warning_recipients (org_id, warning_id);
