-- baedal schema, version 5: riders, deadlines and cancellation.
-- runs.riders: at most that many orders between delivered and collected at
-- once (RUN/GEN riders=; NULL: no limit); runs.deadline_us: orders not
-- collected by then were cancelled (deadline=; NULL: none); runs.cancelled:
-- how many orders its run gave up on. A run ends 'cancelled' (CANCEL) or
-- 'timed_out' (its deadline), and an order it gave up on has a 'cancelled'
-- step instead of eaten and collected. elapsed_us of such a run is from
-- its start to its end.
--
-- SQLite cannot change a CHECK in place: runs and events are rebuilt as in
-- version 2, and the views that read them made again.

DROP VIEW run_summary;
DROP VIEW order_timeline;
DROP VIEW comparison;
DROP VIEW in_flight;

CREATE TABLE runs_v5 (
	run_id      INTEGER PRIMARY KEY,
	session_id  TEXT NOT NULL REFERENCES sessions(session_id),
	mode        TEXT NOT NULL CHECK (mode = 'sync' OR mode = 'async' OR mode = 'offload'),
	orders      INTEGER NOT NULL CHECK (orders > 0),
	status      TEXT NOT NULL
	            CHECK (status = 'running' OR status = 'done' OR status = 'interrupted'
	                   OR status = 'cancelled' OR status = 'timed_out'),
	sum_meal_us INTEGER NOT NULL,
	max_meal_us INTEGER NOT NULL,
	elapsed_us  INTEGER,           -- NULL while running, or if interrupted
	started_us  INTEGER NOT NULL,  -- wall clock
	finished_us INTEGER,           -- wall clock
	ideal_us    INTEGER NOT NULL,
	cook_us     INTEGER NOT NULL DEFAULT 0,
	blocked_us  INTEGER NOT NULL DEFAULT 0,
	caused_us   INTEGER NOT NULL DEFAULT 0,
	group_id    TEXT,
	riders      INTEGER CHECK (riders > 0),
	deadline_us INTEGER CHECK (deadline_us > 0),
	cancelled   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO runs_v5 (run_id, session_id, mode, orders, status, sum_meal_us, max_meal_us,
                     elapsed_us, started_us, finished_us, ideal_us, cook_us, blocked_us,
                     caused_us, group_id)
SELECT run_id, session_id, mode, orders, status, sum_meal_us, max_meal_us, elapsed_us,
       started_us, finished_us, ideal_us, cook_us, blocked_us, caused_us, group_id
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v5 RENAME TO runs;
CREATE INDEX runs_by_session ON runs (session_id, run_id);
CREATE INDEX runs_by_group ON runs (session_id, group_id) WHERE group_id IS NOT NULL;

CREATE TABLE events_v5 (
	run_id  INTEGER NOT NULL,
	idx     INTEGER NOT NULL,
	step    TEXT NOT NULL CHECK (step = 'delivered' OR step = 'eaten' OR step = 'collected'
	                             OR step = 'cooked' OR step = 'cancelled'),
	t_us    INTEGER NOT NULL,
	wall_us INTEGER NOT NULL,
	PRIMARY KEY (run_id, idx, step),
	FOREIGN KEY (run_id, idx) REFERENCES orders(run_id, idx)
) WITHOUT ROWID;
INSERT INTO events_v5 SELECT run_id, idx, step, t_us, wall_us FROM events;
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;

-- run_summary as in version 2, with each run's riders and deadline (NULL:
-- none) and how many of its orders were collected and cancelled.
CREATE VIEW run_summary AS
SELECT
	r.run_id,
	r.session_id,
	r.mode,
	r.orders,
	r.status,
	round(r.elapsed_us / 1000.0, 3) AS elapsed_ms,
	round(r.ideal_us / 1000.0, 3) AS ideal_ms,
	round((r.elapsed_us - r.ideal_us) / 1000.0, 3) AS overhead_ms,
	round(CAST(r.sum_meal_us + r.cook_us AS REAL) / r.elapsed_us, 2) AS speedup,
	round(r.cook_us / 1000.0, 3) AS cook_ms,
	round(r.blocked_us / 1000.0, 3) AS loop_blocked_ms,
	round(r.caused_us / 1000.0, 3) AS caused_late_ms,
	strftime('%Y-%m-%d %H:%M:%f', r.started_us / 1e6, 'unixepoch') AS started_at,
	r.riders,
	round(r.deadline_us / 1000.0, 3) AS deadline_ms,
	CASE WHEN r.status = 'done' THEN r.orders
	     WHEN r.status = 'cancelled' OR r.status = 'timed_out' THEN r.orders - r.cancelled
	END AS collected,
	r.cancelled
FROM runs AS r;

-- comparison as in version 3.
CREATE VIEW comparison AS
WITH g AS (
	SELECT session_id, group_id, min(run_id) AS first_run, min(started_us) AS started_us
	FROM runs WHERE group_id IS NOT NULL
	GROUP BY session_id, group_id
), m AS (
	SELECT g.*,
		(SELECT run_id FROM runs AS r WHERE r.session_id = g.session_id
		 AND r.group_id = g.group_id AND r.mode = 'sync' ORDER BY run_id LIMIT 1) AS sync_run,
		(SELECT run_id FROM runs AS r WHERE r.session_id = g.session_id
		 AND r.group_id = g.group_id AND r.mode = 'async' ORDER BY run_id LIMIT 1) AS async_run,
		(SELECT run_id FROM runs AS r WHERE r.session_id = g.session_id
		 AND r.group_id = g.group_id AND r.mode = 'offload' ORDER BY run_id LIMIT 1) AS offload_run
	FROM g
)
SELECT
	m.group_id,
	m.session_id,
	round(s.elapsed_us / 1000.0, 3) AS sync_ms,
	round(a.elapsed_us / 1000.0, 3) AS async_ms,
	round(o.elapsed_us / 1000.0, 3) AS offload_ms,
	round(s.ideal_us / 1000.0, 3) AS sync_ideal_ms,
	round(a.ideal_us / 1000.0, 3) AS async_ideal_ms,
	round(o.ideal_us / 1000.0, 3) AS offload_ideal_ms,
	round(CAST(s.elapsed_us AS REAL) / a.elapsed_us, 2) AS async_speedup,
	round(CAST(s.elapsed_us AS REAL) / o.elapsed_us, 2) AS offload_speedup,
	m.sync_run,
	m.async_run,
	m.offload_run,
	strftime('%Y-%m-%d %H:%M:%f', m.started_us / 1e6, 'unixepoch') AS started_at
FROM m
LEFT JOIN runs AS s ON s.run_id = m.sync_run
LEFT JOIN runs AS a ON a.run_id = m.async_run
LEFT JOIN runs AS o ON o.run_id = m.offload_run
ORDER BY m.first_run;

-- order_timeline as in version 3, with cancelled_ms: when its run gave up
-- on the order (NULL: it did not). waited_ms includes the wait for a rider.
CREATE VIEW order_timeline AS
SELECT
	o.run_id,
	o.idx,
	o.name,
	round(o.cook_us / 1000.0, 3) AS cook_ms,
	round(o.meal_us / 1000.0, 3) AS meal_ms,
	round(k.t_us / 1000.0, 3) AS cooked_ms,
	round(d.t_us / 1000.0, 3) AS delivered_ms,
	round(e.t_us / 1000.0, 3) AS eaten_ms,
	round(c.t_us / 1000.0, 3) AS collected_ms,
	round(d.t_us / 1000.0, 3) AS waited_ms,
	round((e.t_us - d.t_us - o.meal_us) / 1000.0, 3) AS late_ms,
	round(x.t_us / 1000.0, 3) AS cancelled_ms
FROM orders AS o
LEFT JOIN events AS k ON k.run_id = o.run_id AND k.idx = o.idx AND k.step = 'cooked'
LEFT JOIN events AS d ON d.run_id = o.run_id AND d.idx = o.idx AND d.step = 'delivered'
LEFT JOIN events AS e ON e.run_id = o.run_id AND e.idx = o.idx AND e.step = 'eaten'
LEFT JOIN events AS c ON c.run_id = o.run_id AND c.idx = o.idx AND c.step = 'collected'
LEFT JOIN events AS x ON x.run_id = o.run_id AND x.idx = o.idx AND x.step = 'cancelled';

-- in_flight as in version 3; an order cancelled after its delivery leaves
-- the flight when it is cancelled.
CREATE VIEW in_flight AS
SELECT
	run_id,
	round(t_us / 1000.0, 3) AS t_ms,
	sum(delta) OVER (PARTITION BY run_id ORDER BY t_us) AS in_flight
FROM (
	SELECT run_id, t_us, sum(CASE step WHEN 'delivered' THEN 1 ELSE -1 END) AS delta
	FROM events AS e
	WHERE step = 'delivered' OR step = 'collected'
	   OR (step = 'cancelled' AND EXISTS (SELECT 1 FROM events AS d WHERE d.run_id = e.run_id
	                                      AND d.idx = e.idx AND d.step = 'delivered'))
	GROUP BY run_id, t_us
);
