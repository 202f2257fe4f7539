-- Accepted spans are training data too (the NER flywheel): what a label row teaches.
ALTER TABLE labels ADD COLUMN kind text NOT NULL DEFAULT 'choice' CHECK (kind IN ('choice', 'span'));
