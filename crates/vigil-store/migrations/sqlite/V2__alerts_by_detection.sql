-- The overview counts alerts by when they were detected.
CREATE INDEX alerts_detected ON alerts (detected_at);
CREATE INDEX alerts_org_detected ON alerts (org_id, detected_at);
-- Filtered lists page newest first: the filter column, then the page order.
DROP INDEX incidents_grade;
DROP INDEX incidents_category;
CREATE INDEX incidents_grade_created ON incidents (grade, created_at, id);
CREATE INDEX incidents_category_created ON incidents (category, created_at, id);
CREATE INDEX incidents_status_created ON incidents (status, created_at, id);
DROP INDEX alerts_source;
CREATE INDEX alerts_source_created ON alerts (source, created_at, id);
