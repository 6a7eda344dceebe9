-- The overview counts alerts by when they were detected.
CREATE INDEX alerts_detected ON alerts (detected_at);
CREATE INDEX alerts_org_detected ON alerts (org_id, detected_at);
-- Filtered lists page newest first: the filter column, then the page order.
CREATE INDEX incidents_grade_created ON incidents (grade, created_at DESC, id DESC);
CREATE INDEX incidents_category_created ON incidents (category, created_at DESC, id DESC);
CREATE INDEX incidents_status_created ON incidents (status, created_at DESC, id DESC);
CREATE INDEX alerts_status_created ON alerts (status, created_at DESC, id DESC);
CREATE INDEX alerts_severity_created ON alerts (severity, created_at DESC, id DESC);
CREATE INDEX alerts_source_created ON alerts (source, created_at DESC, id DESC);
