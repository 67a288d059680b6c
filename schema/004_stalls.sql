-- baedal schema, version 4: the event loop's stalls.
-- A stall is one callback that held the server's event loop for
-- --warn-stall or longer (100 ms by default): every timer and every
-- connection waited for it. started_us is the wall clock at its start (µs
-- since the Unix epoch), duration_us how long it held the loop; cause says
-- what held it: 'cook' (an async run's order cooked on the loop, or one
-- the full worker pool left to it), 'line' (a client's command line),
-- 'start' (a run's start or resumption). run_id and idx name the run and
-- order it worked on, NULL for none.

CREATE TABLE stalls (
	stall_id INTEGER PRIMARY KEY,
	started_us INTEGER NOT NULL,
	duration_us INTEGER NOT NULL CHECK (duration_us >= 0),
	cause TEXT NOT NULL,
	run_id INTEGER,
	idx INTEGER
);
CREATE INDEX stalls_by_run ON stalls (run_id) WHERE run_id IS NOT NULL;
