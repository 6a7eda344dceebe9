-- Incidents opened by the alert aggregator carry the key their alerts grouped under
-- (rule family, asset, window; the organization is the row's). Among the open incidents of an
-- organization a key is unique, so two aggregators racing on the same key open one incident:
-- the loser's insert fails and it attaches instead. Closing or archiving an incident takes it
-- out of the index, and the next alert of the key opens a new one.
ALTER TABLE incidents ADD COLUMN aggregation_key TEXT;
CREATE UNIQUE INDEX incidents_open_aggregation ON incidents (org_id, aggregation_key)
    WHERE aggregation_key IS NOT NULL AND status NOT IN ('closed', 'archived');
