-- Overdue early warnings (issue 6): when the one reminder after the response deadline was
-- recorded for a recipient that had not acknowledged (NULL: not reminded).

ALTER TABLE warning_recipients ADD COLUMN reminded_at timestamptz;
