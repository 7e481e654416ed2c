-- A notice may take its reader to another case than the event's own: a merge (合并)
-- tells the master's unit and links the master, while the row still names its event by
-- the duplicate's (case_id, event_seq). NULL: the event's own case. Keep in step with
-- the other tree.
ALTER TABLE notifications ADD COLUMN link_case_id TEXT;
