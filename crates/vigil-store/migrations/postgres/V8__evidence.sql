-- Evidence files of incidents (issue 6): the record with the SM3 digest computed at upload,
-- and the bytes in their own table so that listing never reads them. Written once, never
-- updated; they go only with their incident.

CREATE TABLE evidence (
    id           uuid PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    file_name    text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sm3          text NOT NULL,
    uploaded_by  text NOT NULL,
    uploaded_at  timestamptz NOT NULL,
    note         text
);
CREATE INDEX evidence_incident ON evidence (incident_id, uploaded_at, id);
CREATE INDEX evidence_org ON evidence (org_id);

CREATE TABLE evidence_content (
    evidence_id uuid PRIMARY KEY REFERENCES evidence (id) ON DELETE CASCADE,
    bytes       bytea NOT NULL
);
