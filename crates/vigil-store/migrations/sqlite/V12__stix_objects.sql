-- STIX objects of every type an import brings (issue 5): every version of each, keyed by
-- (stix_id, modified). date_added is assigned by the store, strictly increasing, and is what
-- TAXII's added_after and the list cursor page by. `latest` marks the newest version.
CREATE TABLE stix_objects (
    stix_id           TEXT NOT NULL,
    modified          INTEGER NOT NULL,
    type              TEXT NOT NULL,
    spec_version      TEXT NOT NULL,
    created           INTEGER,
    revoked           INTEGER NOT NULL,
    source_id         TEXT REFERENCES intel_sources (id) ON DELETE SET NULL,
    date_added        INTEGER NOT NULL,
    latest            INTEGER NOT NULL,
    name              TEXT,
    name_lower        TEXT,
    attack_id         TEXT,
    source_ref        TEXT,
    target_ref        TEXT,
    relationship_type TEXT,
    object            TEXT NOT NULL,  -- JSON, as received
    PRIMARY KEY (stix_id, modified)
) STRICT;

CREATE UNIQUE INDEX stix_objects_date_added ON stix_objects (date_added);
CREATE INDEX stix_objects_type ON stix_objects (type, latest, date_added);
CREATE INDEX stix_objects_attack_id ON stix_objects (attack_id) WHERE attack_id IS NOT NULL;
CREATE INDEX stix_objects_name ON stix_objects (name_lower) WHERE name_lower IS NOT NULL;
CREATE INDEX stix_objects_source_ref ON stix_objects (source_ref) WHERE source_ref IS NOT NULL;
CREATE INDEX stix_objects_target_ref ON stix_objects (target_ref) WHERE target_ref IS NOT NULL;
CREATE INDEX stix_objects_source ON stix_objects (source_id, date_added);
