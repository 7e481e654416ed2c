-- The live inbox (issue 15 item 5): a notification raised by a case event (the
-- notifications projection of the write path, pipeline.rs) names its event by the case
-- and the event's seq; an escalation's notifications (migration 0003) have none. One
-- notice per (event, person). The unread-first listing and the unread count read
-- notifications_unread. Keep in step with the sqlite tree.
ALTER TABLE notifications ADD COLUMN event_seq BIGINT;
CREATE UNIQUE INDEX notifications_event ON notifications(case_id, event_seq, person_id)
    WHERE event_seq IS NOT NULL;
CREATE INDEX notifications_unread ON notifications(person_id, read_at, created_at);
