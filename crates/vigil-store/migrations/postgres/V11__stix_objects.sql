-- STIX objects of every type an import brings (issue 5): every version of each, keyed by
-- (stix_id, modified). date_added is assigned by the store, strictly increasing (inserts
-- take an advisory lock), and is what TAXII's added_after and the list cursor page by.
-- `latest` marks the newest version.
CREATE TABLE stix_objects (
    stix_id           text NOT NULL,
    modified          timestamptz NOT NULL,
    type              text NOT NULL,
    spec_version      text NOT NULL,
    created           timestamptz,
    revoked           boolean NOT NULL,
    source_id         uuid REFERENCES intel_sources (id) ON DELETE SET NULL,
    date_added        timestamptz NOT NULL,
    latest            boolean NOT NULL,
    name              text,
    attack_id         text,
    source_ref        text,
    target_ref        text,
    relationship_type text,
    object            jsonb NOT NULL,
    PRIMARY KEY (stix_id, modified)
);

CREATE UNIQUE INDEX stix_objects_date_added ON stix_objects (date_added);
CREATE INDEX stix_objects_type ON stix_objects (type, latest, date_added);
CREATE INDEX stix_objects_attack_id ON stix_objects (attack_id) WHERE attack_id IS NOT NULL;
CREATE INDEX stix_objects_name ON stix_objects (lower(name)) WHERE name IS NOT NULL;
CREATE INDEX stix_objects_source_ref ON stix_objects (source_ref) WHERE source_ref IS NOT NULL;
CREATE INDEX stix_objects_target_ref ON stix_objects (target_ref) WHERE target_ref IS NOT NULL;
CREATE INDEX stix_objects_source ON stix_objects (source_id, date_added);
