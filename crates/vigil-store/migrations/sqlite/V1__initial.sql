-- Vigil SQLite schema, version 1.
--
-- Conventions: UUIDs are TEXT (lowercase, hyphenated), times are INTEGER microseconds since
-- the Unix epoch (UTC), booleans are INTEGER 0/1, enums are their snake_case names, nested
-- structures that are never filtered on are JSON text. Everything a list filters or sorts on
-- is a column with an index.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    -- Rust-lowercased name, for case-insensitive substring search (SQLite's lower() only
    -- folds ASCII).
    name_lower  TEXT NOT NULL,
    uscc        TEXT,
    sector      TEXT NOT NULL,
    region_code TEXT NOT NULL,
    mlps_level  INTEGER NOT NULL,
    cii         INTEGER NOT NULL,
    miit_type   TEXT,
    miit_grade  INTEGER,
    responsible TEXT NOT NULL,  -- JSON Contact
    contacts    TEXT NOT NULL,  -- JSON [Contact]
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX organizations_sector ON organizations (sector);
CREATE INDEX organizations_region ON organizations (region_code);
CREATE INDEX organizations_mlps ON organizations (mlps_level);
CREATE INDEX organizations_cii ON organizations (cii);

CREATE TABLE assets (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    industrial  INTEGER NOT NULL,
    importance  TEXT NOT NULL,
    -- Rust-lowercased name, hostnames, domains, IPs, vendor and model, one per line.
    search_text TEXT NOT NULL,
    spec        TEXT NOT NULL,  -- JSON NewAsset (org_id is the column's)
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX assets_org_created ON assets (org_id, created_at, id);
CREATE INDEX assets_created ON assets (created_at, id);
CREATE INDEX assets_kind ON assets (kind);
CREATE INDEX assets_importance ON assets (importance);

-- Events carry no foreign key: the check would cost a lookup per row on the hot path.
-- append_events checks each batch's organizations once, and delete_org deletes the events.
CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    org_id           TEXT NOT NULL,
    asset_id         TEXT,
    ts               INTEGER NOT NULL,
    received_at      INTEGER NOT NULL,
    input            TEXT NOT NULL,
    sender           TEXT,
    -- vigil_model::INDEXED_FIELDS, in order, as text.
    event_category   TEXT,
    event_action     TEXT,
    event_outcome    TEXT,
    event_severity   TEXT,
    source_ip        TEXT,
    destination_ip   TEXT,
    destination_port TEXT,
    host_name        TEXT,
    user_name        TEXT,
    process_name     TEXT,
    url_domain       TEXT,
    file_hash_sha256 TEXT,
    message          TEXT NOT NULL,
    fields           TEXT NOT NULL,  -- JSON object, ECS dotted names
    native           TEXT,           -- JSON object, NULL when empty
    raw              BLOB NOT NULL
) STRICT;
-- Every SQLite index ends with the rowid, so (ts) orders by (ts, id) and (org_id, ts) by
-- (org_id, ts, id): exactly the keyset order of search_events.
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_org_ts ON events (org_id, ts);
CREATE INDEX events_event_category ON events (event_category) WHERE event_category IS NOT NULL;
CREATE INDEX events_event_action ON events (event_action) WHERE event_action IS NOT NULL;
CREATE INDEX events_event_outcome ON events (event_outcome) WHERE event_outcome IS NOT NULL;
CREATE INDEX events_event_severity ON events (event_severity) WHERE event_severity IS NOT NULL;
CREATE INDEX events_source_ip ON events (source_ip) WHERE source_ip IS NOT NULL;
CREATE INDEX events_destination_ip ON events (destination_ip) WHERE destination_ip IS NOT NULL;
CREATE INDEX events_destination_port ON events (destination_port) WHERE destination_port IS NOT NULL;
CREATE INDEX events_host_name ON events (host_name) WHERE host_name IS NOT NULL;
CREATE INDEX events_user_name ON events (user_name) WHERE user_name IS NOT NULL;
CREATE INDEX events_process_name ON events (process_name) WHERE process_name IS NOT NULL;
CREATE INDEX events_url_domain ON events (url_domain) WHERE url_domain IS NOT NULL;
CREATE INDEX events_file_hash_sha256 ON events (file_hash_sha256) WHERE file_hash_sha256 IS NOT NULL;

CREATE TABLE incidents (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    category    TEXT NOT NULL,
    subcategory TEXT,
    grade       TEXT NOT NULL,
    asset_ids   TEXT NOT NULL,  -- JSON [uuid]
    alert_ids   TEXT NOT NULL,  -- JSON [uuid]
    occurred_at INTEGER NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    closed_at   INTEGER,
    timeline    TEXT NOT NULL   -- JSON [TimelineEntry]
) STRICT;
CREATE INDEX incidents_created ON incidents (created_at, id);
CREATE INDEX incidents_org_created ON incidents (org_id, created_at, id);
CREATE INDEX incidents_status ON incidents (status, created_at);
CREATE INDEX incidents_grade ON incidents (grade);
CREATE INDEX incidents_category ON incidents (category);

CREATE TABLE alerts (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id    TEXT,
    source      TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    title       TEXT NOT NULL,
    severity    TEXT NOT NULL,
    category    TEXT,
    detected_at INTEGER NOT NULL,
    event_ids   TEXT NOT NULL,  -- JSON [i64]
    details     TEXT NOT NULL,  -- JSON
    status      TEXT NOT NULL,
    incident_id TEXT REFERENCES incidents (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX alerts_created ON alerts (created_at, id);
CREATE INDEX alerts_org_created ON alerts (org_id, created_at, id);
CREATE INDEX alerts_status ON alerts (status, created_at);
CREATE INDEX alerts_severity ON alerts (severity, created_at);
CREATE INDEX alerts_source ON alerts (source);
CREATE INDEX alerts_incident ON alerts (incident_id) WHERE incident_id IS NOT NULL;

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    org_id        TEXT REFERENCES organizations (id),
    locale        TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX users_org ON users (org_id) WHERE org_id IS NOT NULL;

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    org_id       TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    secret_hash  TEXT NOT NULL UNIQUE
) STRICT;
CREATE INDEX api_tokens_org ON api_tokens (org_id) WHERE org_id IS NOT NULL;

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Append-only; seq, prev_hash and hash are assigned by the writer thread, one at a time.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    org_id    TEXT,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_org ON audit_log (org_id, seq) WHERE org_id IS NOT NULL;
