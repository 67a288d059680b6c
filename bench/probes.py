"""The measurements of the benchmark, one function per target; each returns
plain dicts (one per repetition) that report.py reduces to medians."""
import json
import os
import pty
import select
import signal
import sqlite3
import threading
import time

import sse


class Ctx:
    def __init__(self, build, tmp, server, run_cmd, timed_cmd, log):
        self.build, self.tmp = build, tmp
        self.server_cls, self.run_cmd, self.timed_cmd, self.log = server, run_cmd, timed_cmd, log
        self.loadgen = os.path.join(build, "bench", "loadgen")
        self.client = os.path.join(build, "baedal")
        self.nserver = 0

    def server(self, **kw):
        self.nserver += 1
        return self.server_cls(self.build, self.tmp, "s%d" % self.nserver, **kw)


def config(quick):
    """What to measure: --quick is a smoke run of the same probes, small."""
    if quick:
        return {"quick": True, "runs": 1, "lesson": ["A:300ms", "B:300ms", "C:400ms"],
                "scale_ns": [10000, 100000], "big_n": 100000, "spread_n": 100000,
                "conns": 1000, "watch_n": 10000, "peer_timeout": 60,
                "sse_clients": 100, "sse_gen_n": 100000, "riders_n": 100000, "riders": 100,
                "feature_runs": 1}
    return {"quick": False, "runs": 3, "lesson": ["A:3s", "B:3s", "C:4s"],
            "scale_ns": [10000, 100000, 1000000], "big_n": 1000000, "spread_n": 1000000,
            "conns": 10000, "watch_n": 100000, "peer_timeout": 300,
            "sse_clients": 100, "sse_gen_n": 100000, "riders_n": 1000000, "riders": 100,
            "feature_runs": 6}


PEERS = {
    "asyncio": lambda ctx: ["python3", "bench/peers/asyncio.py"],
    "node": lambda ctx: ["node", "bench/peers/node.js"],
    "go": lambda ctx: [os.path.join(ctx.build, "bench", "peer-go")],
}


def lesson(ctx, cfg):
    """Target 1: the lesson through the real client, sync and async at once."""
    srv = ctx.server()
    out = []
    try:
        for _ in range(cfg["runs"]):
            text = ctx.run_cmd([ctx.client, "--server", srv.addr, "--json", "compare"]
                               + cfg["lesson"], 60)
            for line in text.splitlines():
                d = json.loads(line)
                if d.get("type") == "done":
                    out.append({"mode": d["mode"], "elapsed_ms": d["elapsed_us"] / 1e3,
                                "overhead_ms": d["overhead_ms"], "status": d["status"]})
    finally:
        srv.stop()
    return out


def db_figures(db):
    """Counts and lateness of the one run in a fresh database, from the
    rows themselves: completion (collected) minus the order's ideal (its
    meal, every order starting at t=0), and the timer's own lateness
    (eaten - delivered - meal). The 99th percentiles are taken in SQL, so
    this process never holds a million rows."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    q = ("SELECT {expr} AS v FROM orders o"
         " JOIN events c ON c.run_id = o.run_id AND c.idx = o.idx AND c.step = 'collected'"
         " JOIN events e ON e.run_id = o.run_id AND e.idx = o.idx AND e.step = 'eaten'"
         " JOIN events d ON d.run_id = o.run_id AND d.idx = o.idx AND d.step = 'delivered'"
         " ORDER BY v LIMIT 1 OFFSET ?")
    try:
        orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        k = int(0.99 * (orders - 1) + 0.5)
        late = con.execute(q.format(expr="c.t_us - o.meal_us"), (k,)).fetchone()
        timer = con.execute(q.format(expr="e.t_us - d.t_us - o.meal_us"), (k,)).fetchone()
    finally:
        con.close()
    return {"orders": orders, "events": events,
            "p99_late_ms": late[0] / 1e3 if late else None,
            "p99_timer_late_ms": timer[0] / 1e3 if timer else None}


# The features each measured on versus off (feature_costs): what "off"
# means for each. On, every baedal run has them all: the HTTP listener
# (on port 0, nobody connected), the loop-health measurement (compiled in)
# and riders= as many as the run has orders (the limit is checked for
# every order, never reached, so the makespan is still the meal's).
FEATURES = {
    "http": {"http": "off"},
    "health": {"binary": os.path.join("bench", "nohealth", "baedald")},
    "riders": {"riders": False},
}


def gen(ctx, n, lo_us, hi_us, watched, riders=True, figures=True, **server):
    """Target 2 (and the scaling curve): one GEN run on a fresh server, its
    events read as fast as they come (watched) or not sent at all (WATCH
    ends: the client waits for DONE); every figure after it is committed.
    figures=False skips the rows' lateness, for runs that need the
    makespan alone. riders: as many as the orders (True), none (False) or
    that many."""
    srv = ctx.server(**server)
    try:
        meal = "%dus" % lo_us if lo_us == hi_us else "%dus..%dus" % (lo_us, hi_us)
        if riders is True:
            riders = n
        line = "GEN async %d %s" % (n, meal) + (" riders=%d" % riders if riders else "")
        text = ctx.run_cmd([ctx.loadgen, "one" if watched else "ends", srv.addr, line], 600)
        d = json.loads(text)
        # DONE is sent once the run's end and all its events are committed;
        # the run starts once its OK is sent: DONE's arrival less OK's and
        # the run's own length is how long storage lagged.
        res = {"ok": d["ok"], "makespan_s": d["elapsed_us"] / 1e6,
               "commit_lag_s": max(0.0, d["done_s"] - d["ok_s"] - d["elapsed_us"] / 1e6),
               "ok_s": d["ok_s"], "ideal_s": d["ideal_us"] / 1e6, "streamed": d["events"],
               "dropped": d["dropped"]}
        if figures:
            res.update(db_figures(srv.db))
    finally:
        srv.stop()
    res["rss_mb"] = srv.maxrss_kb / 1024 if srv.maxrss_kb else None
    return res


def peer(ctx, name, n, lo_us, hi_us, timeout):
    cmd = PEERS[name](ctx) + [str(n), str(lo_us), str(hi_us)]
    text, rss = ctx.timed_cmd(cmd, timeout)
    d = json.loads(text)
    return {"makespan_s": d["makespan_s"], "p99_late_ms": d["p99_late_ms"],
            "rss_mb": rss / 1024 if rss else None}


def conns(ctx, cfg):
    """Target 3: many clients at once, each the lesson with ms meals."""
    out = []
    for _ in range(cfg["runs"]):
        srv = ctx.server()
        try:
            text = ctx.run_cmd([ctx.loadgen, "many", srv.addr, str(cfg["conns"]),
                                "RUN async A:3ms B:3ms C:4ms", "120"], 180)
            out.append(json.loads(text))
        finally:
            srv.stop()
        out[-1]["rss_mb"] = srv.maxrss_kb / 1024 if srv.maxrss_kb else None
    return out


def watched(ctx, n, rate):
    """Target 4a: one watcher of an n-order run, reading at rate bytes/s
    (0: as fast as it can); the server's RSS sampled every 50 ms."""
    srv = ctx.server()
    sample, peak = rss_sampler(srv)
    base = peak[0]
    stop = threading.Event()

    def sample_until_stopped():
        while not stop.wait(0.05):
            sample()
    t = threading.Thread(target=sample_until_stopped)
    t.start()
    try:
        cmd = [ctx.loadgen, "one", srv.addr, "GEN async %d 1s" % n] + ([str(rate)] if rate else [])
        d = json.loads(ctx.run_cmd(cmd, 300))
    finally:
        stop.set()
        t.join()
        srv.stop()
    return {"rate": rate, "events": d["events"], "dropped": d["dropped"],
            "accounted": d["events"] + d["dropped"] == 3 * n,
            "rss_growth_mb": (peak[0] - base) / 1024, "done_s": d["done_s"]}


def live_view(ctx, n):
    """Target 4b: the client's live view on a terminal (a pty): frames are
    counted by the clear-to-end sequence each one ends with."""
    srv = ctx.server()
    try:
        cmd = [ctx.client, "--server", srv.addr, "gen", "async", str(n), "1s"]
        ctx.note(["TERM=xterm"] + cmd + ["# on a pty"])
        stamps = run_on_pty(cmd)
    finally:
        srv.stop()
    # The final frame is drawn at once when the run ends, outside the
    # client's 10-a-second pacing: the rate is that of the frames before it.
    paced = stamps[:-1]
    worst = 0
    for i, t in enumerate(paced):
        worst = max(worst, sum(1 for u in paced[i:] if u - t < 1.0))
    span = paced[-1] - paced[0] if len(paced) > 1 else 0
    return {"frames": len(stamps), "max_frames_per_s": worst,
            "mean_frames_per_s": (len(paced) - 1) / span if span > 0 else 0}


def run_on_pty(cmd):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.execv(cmd[0], cmd)
    stamps, tail, ended = [], b"", False
    try:
        while True:
            r, _, _ = select.select([fd], [], [], 120)
            if not r:
                break
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            now = time.monotonic()
            data = tail + chunk
            stamps += [now] * data.count(b"\x1b[J")
            tail = data[-2:] if not data.endswith(b"\x1b[J") else b""
        ended = True
    finally:
        os.close(fd)
        # Interrupted (or timed out): the client goes too, by its PID.
        if not ended or os.waitpid(pid, os.WNOHANG)[0] == 0:
            if not ended:
                os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    return stamps


def scaling(ctx, cfg, res):
    """baedal and each peer at every N (meal 1 s) and spread meals at the
    big N, interleaved so that every pair is measured minutes apart."""
    cases = [(n, 1000000, 1000000) for n in cfg["scale_ns"]]
    cases.append((cfg["spread_n"], 500000, 1500000))
    for rep in range(cfg["runs"]):
        for n, lo, hi in cases:
            key = "%d %s" % (n, "1s" if lo == hi else "0.5-1.5s")
            ctx.log("run %d/%d: N=%s" % (rep + 1, cfg["runs"], key))
            res.setdefault(("baedal", key), []).append(gen(ctx, n, lo, hi, False))
            res.setdefault(("baedal-watched", key), []).append(gen(ctx, n, lo, hi, True))
            for name in PEERS:
                res.setdefault((name, key), []).append(
                    peer(ctx, name, n, lo, hi, cfg["peer_timeout"]))


def feature_costs(ctx, cfg):
    """Each feature's cost on the big run's makespan (WATCH ends): all on
    against that feature off alone, as adjacent pairs, so that the two
    are measured seconds apart. Which of the two runs first alternates:
    the first run of a pair is the slower one by a few per cent whatever
    it is (measured: 12 pairs of health on and off, +6 % to -6 % by the
    order alone), and an even number of pairs puts each side first
    equally often. A feature's cost is a few per cent at most, within one
    pair's noise: more pairs than the other targets have."""
    n = cfg["big_n"]
    res = {}
    reps = cfg.get("feature_runs", cfg["runs"])
    for rep in range(reps):
        ctx.log("run %d/%d: features on and off, N=%d" % (rep + 1, reps, n))
        for name, off in FEATURES.items():
            pair = [("on", {}), ("off", off)]
            for side, kw in (pair if rep % 2 == 0 else pair[::-1]):
                res.setdefault(name, {}).setdefault(side, []).append(
                    gen(ctx, n, 1000000, 1000000, False, figures=False, **kw))
    return res


def rss_sampler(srv):
    """(sample, peak): sample() reads the server's RSS, peak[0] the most."""
    peak = [srv.rss_kb()]

    def sample():
        try:
            peak[0] = max(peak[0], srv.rss_kb())
        except (OSError, AttributeError):
            pass
    return sample, peak


def sse_lesson(ctx, cfg, n, rep):
    """Browsers watching the lesson: n event streams of the session that
    runs it, sync and async at once; each run's overhead from its DONE, and
    whether every stream got every step the protocol connection got."""
    srv = ctx.server()
    lesson = " ".join(cfg["lesson"])
    ctx.note(["# %d streams: GET http://127.0.0.1:$HTTP/events?session=ID, then RUN sync %s "
              "and RUN async %s" % (n, lesson, lesson)])
    try:
        dones, streams, evs = sse.watch(srv.addr, srv.http, n, ["RUN sync " + lesson,
                                                              "RUN async " + lesson], 2)
    finally:
        srv.stop()
    whole = all(st.events == evs and st.dones == 2 for st in streams)
    return [{"rep": rep, "clients": n, "mode": d["mode"], "status": d["status"], "whole": whole,
             "overhead_ms": (int(d["elapsed"]) - int(d["ideal"])) / 1e3} for d in dones]


def sse_gen(ctx, cfg, rate):
    """One browser on a large GEN: every event streamed or counted in a
    lagged event, the server's RSS sampled as it reads (rate bytes/s, 0:
    as fast as it comes)."""
    n = cfg["sse_gen_n"]
    srv = ctx.server()
    sample, peak = rss_sampler(srv)
    base = peak[0]
    ctx.note(["# 1 stream%s: GET http://127.0.0.1:$HTTP/events?session=ID, then WATCH ends, "
              "GEN async %d 1s" % (" read at %d B/s" % rate if rate else "", n)])
    try:
        dones, streams, _ = sse.watch(srv.addr, srv.http, 1, ["WATCH ends",
                                                               "GEN async %d 1s" % n], 1,
                                      rate=rate, sample=sample)
    finally:
        srv.stop()
    st = streams[0]
    return {"rate": rate, "events": st.events, "dropped": st.dropped, "closed": st.closed,
            "accounted": st.events + st.dropped == 3 * n and st.dones == 1,
            "rss_growth_mb": (peak[0] - base) / 1024, "status": dones[0]["status"]}


def riders_big(ctx, cfg):
    """Bounded concurrency at scale: N orders of 1 ms, a fixed number of
    riders: every hand-over of a rider is a wake-up of the loop."""
    res = gen(ctx, cfg["riders_n"], 1000, 1000, False, riders=cfg["riders"], figures=False)
    res["over_ideal"] = res["makespan_s"] / res["ideal_s"]
    return res


def run_all(ctx, cfg):
    res = {"scaling": {}}
    ctx.log("target 1: the lesson, %d runs" % cfg["runs"])
    res["lesson"] = lesson(ctx, cfg)
    scaling(ctx, cfg, res["scaling"])
    res["features"] = feature_costs(ctx, cfg)
    ctx.log("target 3: %d connections" % cfg["conns"])
    res["conns"] = conns(ctx, cfg)
    ctx.log("target 4: one watcher of %d orders" % cfg["watch_n"])
    res["watch_fast"], res["watch_slow"], res["live"] = [], [], []
    for _ in range(cfg["runs"]):
        res["watch_fast"].append(watched(ctx, cfg["watch_n"], 0))
        res["watch_slow"].append(watched(ctx, cfg["watch_n"], 1000000))
        res["live"].append(live_view(ctx, cfg["watch_n"]))
    ctx.log("target 5: %d browsers on the lesson, one on %d orders"
            % (cfg["sse_clients"], cfg["sse_gen_n"]))
    res["sse_lesson"], res["sse_fast"], res["sse_slow"] = [], [], []
    for rep in range(cfg["runs"]):
        pair = [0, cfg["sse_clients"]]
        for n in (pair if rep % 2 == 0 else pair[::-1]):
            res["sse_lesson"] += sse_lesson(ctx, cfg, n, rep)
        res["sse_fast"].append(sse_gen(ctx, cfg, 0))
        res["sse_slow"].append(sse_gen(ctx, cfg, 1000000))
    ctx.log("target 6: %d orders of 1 ms, %d riders" % (cfg["riders_n"], cfg["riders"]))
    res["riders_big"] = [riders_big(ctx, cfg) for _ in range(cfg["runs"])]
    return res
