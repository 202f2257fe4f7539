-- Dashboards: submissions of a project by time (throughput, gold accuracy and rejections over a time range).
CREATE INDEX submissions_by_time ON submissions (project_id, submitted_at);
