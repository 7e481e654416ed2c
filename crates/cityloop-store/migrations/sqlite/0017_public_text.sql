-- Public and internal text are separated (issue 16): citizens see a fixed wording of the
-- state and the replies staff write for them (答复市民), never a note or reason.
-- Case views written before this kept a `public_note` that mixed internal notes and void
-- reasons into the public view. The view loses it; the events keep what they recorded
-- (history is never rewritten, and the fold no longer reads that field).
UPDATE cases SET view = json_remove(view, '$.public_note')
 WHERE json_type(view, '$.public_note') IS NOT NULL;
