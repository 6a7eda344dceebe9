-- Intelligence source settings, import history and external dynamic lists (issue 5).
ALTER TABLE intel_sources ADD COLUMN default_tlp text;
ALTER TABLE intel_sources ADD COLUMN description text;

-- One row per finished import of a source; the first rejections (id, reason) as JSON.
CREATE TABLE intel_imports (
    id          uuid PRIMARY KEY,
    source_id   uuid NOT NULL REFERENCES intel_sources (id) ON DELETE CASCADE,
    actor       text NOT NULL,
    via         text NOT NULL,
    format      text NOT NULL,
    inserted    bigint NOT NULL,
    updated     bigint NOT NULL,
    unchanged   bigint NOT NULL,
    rejected    bigint NOT NULL,
    rejections  jsonb NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL
);
CREATE INDEX intel_imports_finished ON intel_imports (finished_at, id);
CREATE INDEX intel_imports_source ON intel_imports (source_id, finished_at, id);

-- Named blocklists firewalls poll as external dynamic lists; the filter is JSON.
CREATE TABLE intel_edl_lists (
    name        text PRIMARY KEY,
    description text,
    filter      jsonb NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
