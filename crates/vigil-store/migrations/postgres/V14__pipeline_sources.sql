-- Pipeline sources defined at runtime (issue 4): listeners added through the API and UI,
-- started again by `vigil serve` after a restart. `settings` is the listener's settings as
-- JSON (validated by the pipeline before it is stored).

CREATE TABLE pipeline_sources (
    name       text PRIMARY KEY,
    kind       text NOT NULL,
    settings   jsonb NOT NULL,
    enabled    boolean NOT NULL,
    origin     text NOT NULL CHECK (origin IN ('config', 'api')),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL
);
