-- What `l4d2ctl watch` reports beside the state: the A2S health of a running
-- server (ok, no-answer; none when it is not polled) and since when the
-- state holds (the host's clock).
ALTER TABLE servers ADD COLUMN health TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN state_since INTEGER;
