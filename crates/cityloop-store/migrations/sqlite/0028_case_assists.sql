-- Co-handling (主办/协办, issue 20): each case's assisting units, one row per unit with the
-- state of its latest part (open, reported, returned, released). A derived view of the case
-- like `cases`: written from the case view by case_view_in in the transaction of the event,
-- so a handler's queue finds the cases its unit assists on. The parts themselves (task,
-- clock, outcome) live in the case view and its events. Keep in step with the other tree.
CREATE TABLE case_assists (
    case_id TEXT NOT NULL REFERENCES cases(id),
    unit_id TEXT NOT NULL,
    state   TEXT NOT NULL,
    PRIMARY KEY (case_id, unit_id)
);
CREATE INDEX case_assists_unit ON case_assists(unit_id, state);
