-- baedal schema, version 6: figures only for runs that finished.
-- A run that timed out, was cancelled or was interrupted served only some
-- of its orders: its overhead and speed-up against the ideal of all of
-- them were numbers that meant nothing (a cancelled run "2.56x" faster).
-- run_summary keeps its elapsed_ms (how long until it ended) and leaves
-- overhead_ms and speedup NULL; comparison leaves every column of such a
-- run NULL (its run id stays), as README.md always said it did.

DROP VIEW run_summary;
DROP VIEW comparison;

CREATE VIEW run_summary AS
SELECT
	r.run_id,
	r.session_id,
	r.mode,
	r.orders,
	r.status,
	round(r.elapsed_us / 1000.0, 3) AS elapsed_ms,
	round(r.ideal_us / 1000.0, 3) AS ideal_ms,
	CASE WHEN r.status = 'done'
	     THEN round((r.elapsed_us - r.ideal_us) / 1000.0, 3) END AS overhead_ms,
	CASE WHEN r.status = 'done'
	     THEN round(CAST(r.sum_meal_us + r.cook_us AS REAL) / r.elapsed_us, 2) END AS speedup,
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
LEFT JOIN runs AS s ON s.run_id = m.sync_run AND s.status = 'done'
LEFT JOIN runs AS a ON a.run_id = m.async_run AND a.status = 'done'
LEFT JOIN runs AS o ON o.run_id = m.offload_run AND o.status = 'done'
ORDER BY m.first_run;
