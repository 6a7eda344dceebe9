-- Threat intelligence (issue 5): sources, indicators (platform-wide) and sightings (owned by
-- an organization).
CREATE TABLE intel_sources (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    url        TEXT,
    enabled    INTEGER NOT NULL,
    trust      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- One row per indicator of a source: (source_id, stix_id) is the identity, `modified` the
-- version kept (the newest seen).
CREATE TABLE indicators (
    id          TEXT PRIMARY KEY NOT NULL,
    source_id   TEXT NOT NULL REFERENCES intel_sources (id) ON DELETE CASCADE,
    stix_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT,
    all_values  TEXT NOT NULL,  -- JSON ["kind:value"]
    pattern     TEXT,
    name        TEXT,
    description TEXT,
    confidence  INTEGER NOT NULL,
    tlp         TEXT,
    valid_from  INTEGER,
    valid_until INTEGER,
    labels      TEXT NOT NULL,  -- JSON [string]
    kill_chain  TEXT NOT NULL,  -- JSON [string]
    attack_ids  TEXT NOT NULL,  -- JSON [string]
    modified    INTEGER NOT NULL,
    revoked     INTEGER NOT NULL,
    object      TEXT NOT NULL,  -- JSON, the STIX object
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    date_added  INTEGER NOT NULL,
    revoked_at  INTEGER,
    UNIQUE (source_id, stix_id)
) STRICT;
CREATE INDEX indicators_added ON indicators (date_added, id);
CREATE INDEX indicators_stix ON indicators (stix_id);
CREATE INDEX indicators_kind_added ON indicators (kind, date_added, id);

-- Every normalized value of an indicator, for exact lookups of any of them.
CREATE TABLE indicator_values (
    indicator_id TEXT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    value        TEXT NOT NULL,
    PRIMARY KEY (value, indicator_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX indicator_values_indicator ON indicator_values (indicator_id);

CREATE TABLE sightings (
    id           TEXT PRIMARY KEY NOT NULL,
    indicator_id TEXT NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id     INTEGER,
    alert_id     TEXT,
    seen_at      INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX sightings_seen ON sightings (seen_at, id);
CREATE INDEX sightings_org_seen ON sightings (org_id, seen_at, id);
CREATE INDEX sightings_indicator_seen ON sightings (indicator_id, seen_at, id);
