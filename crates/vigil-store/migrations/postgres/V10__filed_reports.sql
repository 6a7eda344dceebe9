-- Regulatory incident reports as filed (issue 6): the JSON snapshot of each report with its
-- sequence number within the incident, kind, author, time and the SM3 digest computed when
-- it was filed. Written once, never updated; they go only with their incident. At most one
-- initial and one final report per incident.

CREATE TABLE filed_reports (
    id            uuid PRIMARY KEY,
    incident_id   uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq           integer NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('initial', 'supplement', 'final')),
    timeline_upto integer NOT NULL,
    filed_by      text NOT NULL,
    filed_at      timestamptz NOT NULL,
    size          bigint NOT NULL,
    sm3           text NOT NULL,
    snapshot      bytea NOT NULL,
    UNIQUE (incident_id, seq)
);
CREATE UNIQUE INDEX filed_reports_single_kind ON filed_reports (incident_id, kind)
    WHERE kind IN ('initial', 'final');
CREATE INDEX filed_reports_org ON filed_reports (org_id);
