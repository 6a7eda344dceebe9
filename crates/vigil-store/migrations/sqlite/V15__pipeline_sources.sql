-- Pipeline sources defined at runtime (issue 4): listeners added through the API and UI,
-- started again by `vigil serve` after a restart. `settings` is the listener's settings as
-- JSON (validated by the pipeline before it is stored).

CREATE TABLE pipeline_sources (
    name       TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    settings   TEXT NOT NULL,
    enabled    INTEGER NOT NULL,
    origin     TEXT NOT NULL CHECK (origin IN ('config', 'api')),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
