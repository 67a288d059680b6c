-- baedal schema, version 3: a learner's questions, one query each.
-- runs.group_id: the runs a client submitted together (RUN/GEN group=;
-- `baedal compare` gives its two or three runs one), NULL for the others.
-- Three views answer: how much faster than sync was each mode of one
-- compare (comparison), how long each order waited for its turn
-- (order_timeline.waited_ms), how many orders were in flight over time
-- (in_flight). Figures are ms rounded to three decimals (whole µs), as
-- numbers, so that they sort and compare as numbers.

ALTER TABLE runs ADD COLUMN group_id TEXT;
CREATE INDEX runs_by_group ON runs (session_id, group_id) WHERE group_id IS NOT NULL;

-- One row per group of runs (per session: a group is the client's name for
-- its own runs). Each mode's elapsed and ideal time, and its speed-up over
-- the group's sync run (sync elapsed / this mode's elapsed: 2.5 means 2.5
-- times as fast as sync). A mode the group did not run, or a run that did
-- not finish, leaves its columns empty. Were a mode sent twice in one
-- group, its first run counts.
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

-- order_timeline as before, with waited_ms: how long the order waited for
-- its turn, from its run's start to its delivery (in sync, the meals and
-- cooks of the orders before it; in async, about nothing).
DROP VIEW order_timeline;
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
	round((e.t_us - d.t_us - o.meal_us) / 1000.0, 3) AS late_ms
FROM orders AS o
LEFT JOIN events AS k ON k.run_id = o.run_id AND k.idx = o.idx AND k.step = 'cooked'
LEFT JOIN events AS d ON d.run_id = o.run_id AND d.idx = o.idx AND d.step = 'delivered'
LEFT JOIN events AS e ON e.run_id = o.run_id AND e.idx = o.idx AND e.step = 'eaten'
LEFT JOIN events AS c ON c.run_id = o.run_id AND c.idx = o.idx AND c.step = 'collected';

-- One row per moment a run's count of orders in flight changed: t_ms from
-- the run's start, and how many orders were then between delivered and
-- collected. Steps at the same microsecond count as one change.
CREATE VIEW in_flight AS
SELECT
	run_id,
	round(t_us / 1000.0, 3) AS t_ms,
	sum(delta) OVER (PARTITION BY run_id ORDER BY t_us) AS in_flight
FROM (
	SELECT run_id, t_us, sum(CASE step WHEN 'delivered' THEN 1 ELSE -1 END) AS delta
	FROM events
	WHERE step = 'delivered' OR step = 'collected'
	GROUP BY run_id, t_us
);
