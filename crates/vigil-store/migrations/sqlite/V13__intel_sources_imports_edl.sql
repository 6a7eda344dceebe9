-- Intelligence source settings, import history and external dynamic lists (issue 5).
ALTER TABLE intel_sources ADD COLUMN default_tlp TEXT;
ALTER TABLE intel_sources ADD COLUMN description TEXT;

-- One row per finished import of a source; the first rejections (id, reason) as JSON.
CREATE TABLE intel_imports (
    id          TEXT PRIMARY KEY NOT NULL,
    source_id   TEXT NOT NULL REFERENCES intel_sources (id) ON DELETE CASCADE,
    actor       TEXT NOT NULL,
    via         TEXT NOT NULL,
    format      TEXT NOT NULL,
    inserted    INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    rejections  TEXT NOT NULL,  -- JSON [{id, reason}]
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL
) STRICT;
CREATE INDEX intel_imports_finished ON intel_imports (finished_at, id);
CREATE INDEX intel_imports_source ON intel_imports (source_id, finished_at, id);

-- Named blocklists firewalls poll as external dynamic lists; the filter is JSON.
CREATE TABLE intel_edl_lists (
    name        TEXT PRIMARY KEY NOT NULL,
    description TEXT,
    filter      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
