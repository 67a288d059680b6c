-- baedal schema, version 1: sessions, runs, orders, events, and the views
-- people query. Times: *_us are microseconds; t_us is an offset from the
-- run's start (CLOCK_MONOTONIC); wall_us is microseconds since the Unix epoch.

CREATE TABLE sessions (
	session_id TEXT PRIMARY KEY,
	created_us INTEGER NOT NULL
) WITHOUT ROWID;

-- CHECKs on three values (runs.status, events.step) are ORs, not IN lists:
-- SQLite evaluates an IN list of more than two constants through a temporary
-- b-tree built again for every row written; events went in 4x slower.
CREATE TABLE runs (
	run_id      INTEGER PRIMARY KEY,
	session_id  TEXT NOT NULL REFERENCES sessions(session_id),
	mode        TEXT NOT NULL CHECK (mode IN ('sync', 'async')),
	orders      INTEGER NOT NULL CHECK (orders > 0),
	status      TEXT NOT NULL
	            CHECK (status = 'running' OR status = 'done' OR status = 'interrupted'),
	sum_meal_us INTEGER NOT NULL,
	max_meal_us INTEGER NOT NULL,
	elapsed_us  INTEGER,           -- NULL until the run is done
	started_us  INTEGER NOT NULL,  -- wall clock
	finished_us INTEGER            -- wall clock
);
CREATE INDEX runs_by_session ON runs (session_id, run_id);

CREATE TABLE orders (
	run_id  INTEGER NOT NULL REFERENCES runs(run_id),
	idx     INTEGER NOT NULL,      -- 1-based position in the run
	name    TEXT NOT NULL,
	meal_us INTEGER NOT NULL CHECK (meal_us > 0),
	PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;

CREATE TABLE events (
	run_id  INTEGER NOT NULL,
	idx     INTEGER NOT NULL,
	step    TEXT NOT NULL CHECK (step = 'delivered' OR step = 'eaten' OR step = 'collected'),
	t_us    INTEGER NOT NULL,
	wall_us INTEGER NOT NULL,
	PRIMARY KEY (run_id, idx, step),
	FOREIGN KEY (run_id, idx) REFERENCES orders(run_id, idx)
) WITHOUT ROWID;

-- One row per run: how long it took against what a perfect server takes
-- (ideal: the sum of meals for sync, the longest meal for async), and the
-- speed-up over doing the orders one after another (sum of meals / elapsed).
CREATE VIEW run_summary AS
SELECT
	r.run_id,
	r.session_id,
	r.mode,
	r.orders,
	r.status,
	round(r.elapsed_us / 1000.0, 3) AS elapsed_ms,
	round((CASE r.mode WHEN 'sync' THEN r.sum_meal_us ELSE r.max_meal_us END) / 1000.0, 3)
		AS ideal_ms,
	round((r.elapsed_us - CASE r.mode WHEN 'sync' THEN r.sum_meal_us ELSE r.max_meal_us END)
		/ 1000.0, 3) AS overhead_ms,
	round(CAST(r.sum_meal_us AS REAL) / r.elapsed_us, 2) AS speedup,
	strftime('%Y-%m-%d %H:%M:%f', r.started_us / 1e6, 'unixepoch') AS started_at
FROM runs AS r;

-- One row per order: when it was delivered, eaten and collected (ms from
-- its run's start) and how late its meal ended (eaten - delivered - meal).
CREATE VIEW order_timeline AS
SELECT
	o.run_id,
	o.idx,
	o.name,
	round(o.meal_us / 1000.0, 3) AS meal_ms,
	round(d.t_us / 1000.0, 3) AS delivered_ms,
	round(e.t_us / 1000.0, 3) AS eaten_ms,
	round(c.t_us / 1000.0, 3) AS collected_ms,
	round((e.t_us - d.t_us - o.meal_us) / 1000.0, 3) AS late_ms
FROM orders AS o
LEFT JOIN events AS d ON d.run_id = o.run_id AND d.idx = o.idx AND d.step = 'delivered'
LEFT JOIN events AS e ON e.run_id = o.run_id AND e.idx = o.idx AND e.step = 'eaten'
LEFT JOIN events AS c ON c.run_id = o.run_id AND c.idx = o.idx AND c.step = 'collected';
