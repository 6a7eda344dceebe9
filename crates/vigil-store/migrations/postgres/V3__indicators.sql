-- Threat intelligence (issue 5): sources, indicators (platform-wide) and sightings (owned by
-- an organization).
CREATE TABLE intel_sources (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    kind       text NOT NULL,
    url        text,
    enabled    boolean NOT NULL,
    trust      smallint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- One row per indicator of a source: (source_id, stix_id) is the identity, `modified` the
-- version kept (the newest seen).
CREATE TABLE indicators (
    id          uuid PRIMARY KEY,
    source_id   uuid NOT NULL REFERENCES intel_sources (id) ON DELETE CASCADE,
    stix_id     text NOT NULL,
    kind        text NOT NULL,
    value       text,
    all_values  text[] NOT NULL,  -- "kind:value"
    plain_values text[] NOT NULL, -- the values alone, for exact lookups
    pattern     text,
    name        text,
    description text,
    confidence  smallint NOT NULL,
    tlp         text,
    valid_from  timestamptz,
    valid_until timestamptz,
    labels      text[] NOT NULL,
    kill_chain  text[] NOT NULL,
    attack_ids  text[] NOT NULL,
    modified    timestamptz NOT NULL,
    revoked     boolean NOT NULL,
    object      jsonb NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    date_added  timestamptz NOT NULL,
    revoked_at  timestamptz,
    UNIQUE (source_id, stix_id)
);
CREATE INDEX indicators_added ON indicators (date_added, id);
CREATE INDEX indicators_stix ON indicators (stix_id);
CREATE INDEX indicators_kind_added ON indicators (kind, date_added, id);
CREATE INDEX indicators_values ON indicators USING gin (plain_values);

CREATE TABLE sightings (
    id           uuid PRIMARY KEY,
    indicator_id uuid NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id     bigint,
    alert_id     uuid,
    seen_at      timestamptz NOT NULL,
    count        integer NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX sightings_seen ON sightings (seen_at DESC, id DESC);
CREATE INDEX sightings_org_seen ON sightings (org_id, seen_at DESC, id DESC);
CREATE INDEX sightings_indicator_seen ON sightings (indicator_id, seen_at DESC, id DESC);
