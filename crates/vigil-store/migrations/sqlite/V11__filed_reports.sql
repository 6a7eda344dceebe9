-- Regulatory incident reports as filed (issue 6): the JSON snapshot of each report with its
-- sequence number within the incident, kind, author, time and the SM3 digest computed when
-- it was filed. Written once, never updated; they go only with their incident. At most one
-- initial and one final report per incident.

CREATE TABLE filed_reports (
    id            TEXT PRIMARY KEY NOT NULL,
    incident_id   TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('initial', 'supplement', 'final')),
    timeline_upto INTEGER NOT NULL,
    filed_by      TEXT NOT NULL,
    filed_at      INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    sm3           TEXT NOT NULL,
    snapshot      BLOB NOT NULL,
    UNIQUE (incident_id, seq)
) STRICT;
CREATE UNIQUE INDEX filed_reports_single_kind ON filed_reports (incident_id, kind)
    WHERE kind IN ('initial', 'final');
CREATE INDEX filed_reports_org ON filed_reports (org_id);
