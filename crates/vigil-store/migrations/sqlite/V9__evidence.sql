-- Evidence files of incidents (issue 6): the record with the SM3 digest computed at upload,
-- and the bytes in their own table so that listing never reads them. Written once, never
-- updated; they go only with their incident.

CREATE TABLE evidence (
    id           TEXT PRIMARY KEY NOT NULL,
    incident_id  TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sm3          TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    uploaded_at  INTEGER NOT NULL,
    note         TEXT
) STRICT;
CREATE INDEX evidence_incident ON evidence (incident_id, uploaded_at, id);
CREATE INDEX evidence_org ON evidence (org_id);

CREATE TABLE evidence_content (
    evidence_id TEXT PRIMARY KEY NOT NULL REFERENCES evidence (id) ON DELETE CASCADE,
    bytes       BLOB NOT NULL
) STRICT;
