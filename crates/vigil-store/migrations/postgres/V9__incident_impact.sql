-- Impact records of incidents (issue 6): the figures grading reads, ransom details, support
-- requested, preliminary cause and affected scope, as the validated JSON of
-- vigil_model::IncidentImpact. One per incident, replaced as a whole; goes with its incident.

CREATE TABLE incident_impacts (
    incident_id uuid PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    impact      jsonb NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX incident_impacts_org ON incident_impacts (org_id);
