-- Every version of an indicator that a newer one replaced (issue 5): the indicators table
-- keeps the current version only (what the matcher reads); the replaced ones stay here with
-- the date_added they had, so that TAXII versions/ and match[version] list them all.
CREATE TABLE indicator_versions (
    indicator_id TEXT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    source_id    TEXT NOT NULL,
    stix_id      TEXT NOT NULL,
    modified     INTEGER NOT NULL,
    date_added   INTEGER NOT NULL,
    object       TEXT NOT NULL,  -- JSON, the STIX object of that version
    PRIMARY KEY (indicator_id, modified)
) STRICT;
CREATE INDEX indicator_versions_added ON indicator_versions (date_added, indicator_id);
CREATE INDEX indicator_versions_stix ON indicator_versions (stix_id);
