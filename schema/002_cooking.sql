-- baedal schema, version 2: cooking, the CPU-bound half of the lesson.
-- Orders may be cooked before they are delivered (orders.cook_us, a new
-- step 'cooked'); runs may be 'offload' (cooking on worker threads) and
-- record what cooking cost: cook_us (the cooks' CPU time), blocked_us (how
-- long their cooks held the event loop: async only), caused_us (the worst
-- lateness of any timer that came due meanwhile), and ideal_us, what a
-- perfect server would take, as the server computed it.
--
-- SQLite cannot change a CHECK in place, so runs and events are rebuilt
-- (create, copy, drop, rename); existing rows keep their values.

DROP VIEW run_summary;
DROP VIEW order_timeline;

CREATE TABLE runs_v2 (
	run_id      INTEGER PRIMARY KEY,
	session_id  TEXT NOT NULL REFERENCES sessions(session_id),
	mode        TEXT NOT NULL CHECK (mode = 'sync' OR mode = 'async' OR mode = 'offload'),
	orders      INTEGER NOT NULL CHECK (orders > 0),
	status      TEXT NOT NULL
	            CHECK (status = 'running' OR status = 'done' OR status = 'interrupted'),
	sum_meal_us INTEGER NOT NULL,
	max_meal_us INTEGER NOT NULL,
	elapsed_us  INTEGER,           -- NULL until the run is done
	started_us  INTEGER NOT NULL,  -- wall clock
	finished_us INTEGER,           -- wall clock
	ideal_us    INTEGER NOT NULL,
	cook_us     INTEGER NOT NULL DEFAULT 0,
	blocked_us  INTEGER NOT NULL DEFAULT 0,
	caused_us   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO runs_v2 (run_id, session_id, mode, orders, status, sum_meal_us, max_meal_us,
                     elapsed_us, started_us, finished_us, ideal_us)
SELECT run_id, session_id, mode, orders, status, sum_meal_us, max_meal_us,
       elapsed_us, started_us, finished_us,
       CASE mode WHEN 'sync' THEN sum_meal_us ELSE max_meal_us END
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
CREATE INDEX runs_by_session ON runs (session_id, run_id);

ALTER TABLE orders ADD COLUMN cook_us INTEGER NOT NULL DEFAULT 0;

CREATE TABLE events_v2 (
	run_id  INTEGER NOT NULL,
	idx     INTEGER NOT NULL,
	step    TEXT NOT NULL CHECK (step = 'delivered' OR step = 'eaten' OR step = 'collected'
	                             OR step = 'cooked'),
	t_us    INTEGER NOT NULL,
	wall_us INTEGER NOT NULL,
	PRIMARY KEY (run_id, idx, step),
	FOREIGN KEY (run_id, idx) REFERENCES orders(run_id, idx)
) WITHOUT ROWID;
INSERT INTO events_v2 SELECT run_id, idx, step, t_us, wall_us FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;

-- One row per run: how long it took against what a perfect server takes,
-- and the speed-up over doing everything one after another (the sum of
-- cooks and meals / elapsed). ideal: sync, the sum of cooks and meals;
-- async, the cooks one after another on the loop, each meal after its own
-- cook; offload, the cooks spread over the worker threads; without cooks,
-- the sum of meals (sync) or the longest (async, offload). loop_blocked_ms
-- and caused_late_ms are what async's cooking on the event loop cost.
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
	strftime('%Y-%m-%d %H:%M:%f', r.started_us / 1e6, 'unixepoch') AS started_at
FROM runs AS r;

-- One row per order: when it was cooked, delivered, eaten and collected
-- (ms from its run's start) and how late its meal ended (eaten - delivered
-- - meal).
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
	round((e.t_us - d.t_us - o.meal_us) / 1000.0, 3) AS late_ms
FROM orders AS o
LEFT JOIN events AS k ON k.run_id = o.run_id AND k.idx = o.idx AND k.step = 'cooked'
LEFT JOIN events AS d ON d.run_id = o.run_id AND d.idx = o.idx AND d.step = 'delivered'
LEFT JOIN events AS e ON e.run_id = o.run_id AND e.idx = o.idx AND e.step = 'eaten'
LEFT JOIN events AS c ON c.run_id = o.run_id AND c.idx = o.idx AND c.step = 'collected';
