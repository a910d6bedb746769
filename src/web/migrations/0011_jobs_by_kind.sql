-- The newest job of a kind (is the game installed? the server list asks on
-- every view) read from its end of this index: before it, SQLite walked
-- the whole job history backwards when no job of the kind had succeeded.
CREATE INDEX jobs_kind ON jobs(kind, id);
