-- Accepted boxes on images are training data too (the detection flywheel).
ALTER TABLE labels DROP CONSTRAINT labels_kind_check;
ALTER TABLE labels ADD CONSTRAINT labels_kind_check CHECK (kind IN ('choice', 'span', 'box'));
