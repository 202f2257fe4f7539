-- Active-learning selection beyond per-item uncertainty: each item's latest uncertainty (what the batch strategies
-- rank by), its place in the project's current batch selection (diversity, hybrid), and per project whether a new
-- selection is due (a scoring pass finished) and the accepted count when the last one was made.
ALTER TABLE items ADD COLUMN uncertainty real;
ALTER TABLE items ADD COLUMN selected_rank integer;
CREATE INDEX items_uncertain ON items (project_id, uncertainty DESC) WHERE NOT labeled AND uncertainty IS NOT NULL;
CREATE INDEX items_selected ON items (project_id) WHERE selected_rank IS NOT NULL;
ALTER TABLE projects ADD COLUMN selection_due boolean NOT NULL DEFAULT false;
ALTER TABLE projects ADD COLUMN selected_at_accepted integer NOT NULL DEFAULT 0;
-- samples of a project's items read along item ids from a random one (the ids are hashes): no sort of the project
CREATE INDEX items_project_id ON items (project_id, item_id);
