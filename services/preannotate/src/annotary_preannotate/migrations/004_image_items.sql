-- Image items are kept too (the image classifier's flywheel): where their pixels are.
ALTER TABLE items ADD COLUMN media_uri text NOT NULL DEFAULT '';
