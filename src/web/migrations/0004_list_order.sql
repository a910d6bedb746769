-- The lists are shown by name: read in that order from an index, SQLite
-- needs no sort (the server list is rendered again whenever the watch
-- reports a change; the sort was half of its database time).
CREATE INDEX servers_by_name ON servers(name, id);
CREATE INDEX blueprints_by_name ON blueprints(name, id);
