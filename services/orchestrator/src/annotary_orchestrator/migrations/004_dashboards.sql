-- Dashboards: item transitions by time, so that the queue depth over a range reads only the history since the
-- range's start (walking back from the current states) instead of every transition of the project.
CREATE INDEX item_history_item_moves ON item_history (at) WHERE subject = 'item';
