-- The overview counts alerts by when they were detected.
CREATE INDEX alerts_detected ON alerts (detected_at);
CREATE INDEX alerts_org_detected ON alerts (org_id, detected_at);
