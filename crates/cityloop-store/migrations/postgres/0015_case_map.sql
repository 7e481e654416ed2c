-- Map clusters (issue 17): cases by state and position. Covering: the cluster query reads
-- state, lon, lat, deadline and id from the index without touching the (large) case rows.
CREATE INDEX cases_map ON cases(state, lon, lat, deadline, id);
