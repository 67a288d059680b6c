"""Turns the benchmark's measurements into the markdown results file and
the scaling plot."""
import os
import platform
import re
import shutil
import statistics
import subprocess
import time

# "baedal": the client asks for the run's DONE only (WATCH ends);
# "baedal-watched": it reads every event line as well.
PROGRAMS = ["baedal", "baedal-watched", "asyncio", "node", "go"]
VARIANTS = (("baedal", "WATCH ends"), ("baedal-watched", "every event read"))


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine_info():
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
    mem = sh("awk '/MemTotal/ {printf \"%.1f GB\", $2 / 1048576}' /proc/meminfo")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": "%s, %d cores" % (cpu.strip(), os.cpu_count()),
        "memory": mem,
        "kernel": platform.release(),
        "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
        "load_before": loadavg(),
        "versions": "; ".join([
            "cc " + sh("cc -dumpfullversion"),
            "libevent " + sh("pkg-config --modversion libevent"),
            "sqlite " + sh("pkg-config --modversion sqlite3"),
            sh("python3 --version"), "node " + sh("node --version"),
            sh("go version").replace("go version ", "")]),
    }


def stat(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def fmt(st, digits=3):
    if st is None:
        return "-"
    med, lo, hi = st
    if lo == hi:
        return "%.*f" % (digits, med)
    return "%.*f (%.*f–%.*f)" % (digits, med, digits, lo, digits, hi)


def verdict(st, limit, higher_is_better=False):
    if st is None:
        return "no data"
    med = st[0]
    ok = med >= limit if higher_is_better else med <= limit
    if ok:
        return "met"
    return "NOT met (by %.3g)" % abs(med - limit)


def paired(a_runs, b_runs, f):
    """f(a, b) for the runs of two programs made in the same repetition
    (the i-th of each), where both have the figures."""
    out = []
    for a, b in zip(a_runs, b_runs):
        try:
            out.append(f(a, b))
        except (KeyError, TypeError, ZeroDivisionError):
            pass
    return stat(out)


def fmt_pct(st):
    if st is None:
        return "-"
    med, lo, hi = st
    if lo == hi:
        return "%+.1f %%" % med
    return "%+.1f %% (%+.1f–%+.1f)" % (med, lo, hi)


PEER_NAMES = [p for p in PROGRAMS if not p.startswith("baedal")]


def best_peer_factor(sc, key, ideal_s, rep):
    """The best peer's overhead over baedal's (makespan less the ideal) in
    repetition rep; None where a figure is missing or baedal's is none."""
    try:
        base = sc[("baedal", key)][rep]["makespan_s"] - ideal_s
        peer = min(sc[(p, key)][rep]["makespan_s"] for p in PEER_NAMES) - ideal_s
        return peer / base
    except (KeyError, IndexError, TypeError, ZeroDivisionError):
        return None


def ratio_rows(cfg, res):
    """The targets as ratios to a baseline measured in the same run:
    baedal unwatched for the watched client, the best peer for overhead,
    the same server with one feature off for each feature's cost."""
    sc = res["scaling"]
    key = "%d 1s" % cfg["big_n"]
    ends, watched = sc.get(("baedal", key), []), sc.get(("baedal-watched", key), [])
    pre = "%s × 1 s" % cfg["big_n"]
    rows = []
    st = paired(watched, ends, lambda w, e: 100.0 * (w["makespan_s"] / e["makespan_s"] - 1))
    rows.append((pre + ", every event read vs WATCH ends: makespan", fmt_pct(st), "≤ +10 %",
                 verdict(st, 10)))
    st = paired(watched, ends, lambda w, e: w["p99_late_ms"] / e["p99_late_ms"])
    rows.append((pre + ", the same: p99 lateness, × the unwatched p99", fmt(st, 2), "≤ 1.25",
                 verdict(st, 1.25)))
    for runs, how in ((ends, "WATCH ends"), (watched, "every event read")):
        st = stat([r["rss_mb"] for r in runs])
        rows.append((pre + ", %s: server peak RSS MB" % how, fmt(st, 0), "≤ 200",
                     verdict(st, 200)))
    st = stat([r["ok_s"] for r in ends])
    rows.append(("GEN %d: submit to OK s" % cfg["big_n"], fmt(st), "≤ 0.3", verdict(st, 0.3)))
    for n in cfg["scale_ns"]:
        k = "%d 1s" % n
        reps = range(min(len(sc.get((p, k), [])) for p in PROGRAMS))
        st = stat([best_peer_factor(sc, k, 1.0, i) for i in reps])
        rows.append(("%d × 1 s: the best peer's overhead ÷ baedal's" % n, fmt(st, 1), "≥ 10",
                     verdict(st, 10, higher_is_better=True)))
    for name, sides in res.get("features", {}).items():
        st = paired(sides.get("on", []), sides.get("off", []),
                    lambda on, off: 100.0 * (on["makespan_s"] / off["makespan_s"] - 1))
        rows.append(("%s × 1 s, WATCH ends: makespan with %s on vs off" % (cfg["big_n"], name),
                     fmt_pct(st), "≤ +2 %", verdict(st, 2)))
    return rows


def target_rows(cfg, res):
    rows = []
    for mode in ("sync", "async"):
        st = stat([d["overhead_ms"] for d in res["lesson"] if d["mode"] == mode])
        ideal = "10 s" if mode == "sync" else "4 s"
        if cfg["quick"]:
            ideal = "1 s" if mode == "sync" else "0.4 s"
        rows.append(("1", "lesson %s (ideal %s): overhead ms" % (mode, ideal), fmt(st),
                     "≤ +1 ms", verdict(st, 1.0)))
    sc = res["scaling"]
    for key, limit in (("%d 1s" % cfg["big_n"], 1.25), ("%d 0.5-1.5s" % cfg["spread_n"], 1.75)):
        n = int(key.split()[0])
        for prog, how in VARIANTS:
            runs = sc.get((prog, key), [])
            for label, field, lim in (("makespan s", "makespan_s", limit),
                                      ("server peak RSS MB", "rss_mb", 300),
                                      ("p99 lateness ms", "p99_late_ms", 250),
                                      ("stored ≤ s after the end", "commit_lag_s", 5)):
                st = stat([r[field] for r in runs])
                rows.append(("2", "GEN %s, %s: %s" % (key, how, label), fmt(st),
                             "≤ %g" % lim, verdict(st, lim)))
            complete = [r["orders"] == n and r["events"] == 3 * n for r in runs]
            rows.append(("2", "GEN %s, %s: all %d orders + %d events in SQLite"
                         % (key, how, n, 3 * n),
                         "%d/%d runs" % (sum(complete), len(runs)), "all",
                         "met" if complete and all(complete) else "NOT met"))
    c = res["conns"]
    lost = stat([d["lost"] for d in c])
    rows.append(("3", "%d connections: runs lost" % cfg["conns"], fmt(lost, 0), "0",
                 verdict(lost, 0)))
    st = stat([d["over_p99_ms"] for d in c])
    rows.append(("3", "%d connections: p99 run overhead ms (DONE)" % cfg["conns"], fmt(st),
                 "≤ 50", verdict(st, 50)))
    return rows + watch_rows(cfg, res)


def watch_rows(cfg, res):
    n = cfg["watch_n"]
    fast = res["watch_fast"]
    st = stat([100.0 * d["events"] / (3 * n) for d in fast])
    rows = [("4", "%d orders, one fast watcher: %% of events streamed" % n, fmt(st, 1),
             "100", verdict(st, 100, higher_is_better=True))]
    acc = all(d["accounted"] for d in fast + res["watch_slow"])
    rows.append(("4", "every event streamed or counted in LAGGED", "yes" if acc else "no",
                 "yes", "met" if acc else "NOT met"))
    st = stat([d["rss_growth_mb"] for d in res["watch_slow"]])
    rows.append(("4", "watcher at 1 MB/s: server RSS growth MB", fmt(st, 1),
                 "bounded (≤ 64)", verdict(st, 64)))
    st = stat([d["max_frames_per_s"] for d in res["live"]])
    rows.append(("4", "live view: most redraws in any 1 s (final frame aside)", fmt(st, 0),
                 "≤ 10", verdict(st, 10)))
    st = stat([d["mean_frames_per_s"] for d in res["live"]])
    rows.append(("4", "live view: mean redraws/s", fmt(st, 1), "≤ 10", verdict(st, 10)))
    return rows


def browser_rider_rows(cfg, res):
    """The browser view's and the riders' targets: browsers (event
    streams) watching the lesson and a large run, a million orders through
    a hundred riders."""
    rows, lesson = [], res.get("sse_lesson", [])
    k = cfg["sse_clients"]
    for mode in ("sync", "async"):
        st = stat([d["overhead_ms"] for d in lesson if d["mode"] == mode and d["clients"] == k])
        rows.append(("lesson %s, %d browsers watching: overhead ms" % (mode, k), fmt(st),
                     "≤ +1 ms", verdict(st, 1.0)))
        by_rep = {}
        for d in lesson:
            if d["mode"] == mode:
                by_rep.setdefault(d["rep"], {})[d["clients"]] = d["overhead_ms"]
        st = stat([r[k] - r[0] for r in by_rep.values() if k in r and 0 in r])
        rows.append(("lesson %s: overhead with %d browsers less with none, ms" % (mode, k),
                     fmt(st), "≤ +1 ms", verdict(st, 1.0)))
    whole = [d["whole"] for d in lesson if d["clients"] == k]
    rows.append(("every browser got every step and both runs' ends",
                 "%d/%d runs" % (sum(whole), len(whole)), "all",
                 "met" if whole and all(whole) else "NOT met"))
    n = cfg["sse_gen_n"]
    fast, slow = res.get("sse_fast", []), res.get("sse_slow", [])
    st = stat([100.0 * d["events"] / (3 * n) for d in fast])
    rows.append(("GEN %d, one browser reading as fast as it can: %% of events streamed" % n,
                 fmt(st, 1), "-", "(the rest counted: next row)"))
    acc = [d["accounted"] for d in fast + slow]
    rows.append(("GEN %d, one browser (fast, and at 1 MB/s): every event streamed or "
                 "counted in a lagged event" % n, "%d/%d runs" % (sum(acc), len(acc)), "all",
                 "met" if acc and all(acc) else "NOT met"))
    st = stat([d["rss_growth_mb"] for d in slow])
    rows.append(("GEN %d, one browser at 1 MB/s: server RSS growth MB" % n, fmt(st, 1),
                 "bounded (≤ 64)", verdict(st, 64)))
    big = res.get("riders_big", [])
    pre = "%d × 1 ms, %d riders (ideal %g s)" % (cfg["riders_n"], cfg["riders"],
                                                 cfg["riders_n"] / 1000.0 / cfg["riders"])
    st = stat([d["over_ideal"] for d in big])
    rows.append((pre + ": makespan ÷ ideal", fmt(st), "≤ 1.25", verdict(st, 1.25)))
    st = stat([d["rss_mb"] for d in big])
    rows.append((pre + ": server peak RSS MB", fmt(st, 0), "≤ 300", verdict(st, 300)))
    return rows


def peer_rows(res):
    rows = []
    for key in sorted({k for _, k in res}, key=lambda k: (k.split()[1], int(k.split()[0]))):
        base = stat([r["makespan_s"] for r in res.get(("baedal", key), [])])
        base_rss = stat([r["rss_mb"] for r in res.get(("baedal", key), [])])
        for prog in PROGRAMS:
            runs = res.get((prog, key), [])
            mk = stat([r["makespan_s"] for r in runs])
            rss = stat([r["rss_mb"] for r in runs])
            ratio = "%.2f" % (mk[0] / base[0]) if mk and base else "-"
            rratio = "%.2f" % (rss[0] / base_rss[0]) if rss and base_rss else "-"
            rows.append((key, prog, fmt(mk), fmt(stat([r["p99_late_ms"] for r in runs]), 1),
                         fmt(rss, 0), ratio, rratio))
    return rows


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def render(machine, cfg, res, commands):
    # One line per distinct command: every probe's server differs only in
    # its database's name.
    commands = list(dict.fromkeys(re.sub(r"\$TMP/s\d+\.db", "$TMP/sN.db", c)
                                  for c in commands))
    lines = ["# baedal benchmark%s" % (" (quick)" if cfg["quick"] else ""), "",
             "Each figure: median of %d run(s) (min–max in brackets)." % cfg["runs"], "",
             "## Machine", ""]
    for k in ("date", "cpu", "memory", "os", "kernel", "versions", "load_before",
              "load_after"):
        lines.append("- %s: %s" % (k.replace("_", " "), machine.get(k, "?")))
    lines.append("- suite took: %.0f s" % machine["duration_s"])
    lines += ["", "## Targets: ratios to a baseline in the same run", "",
              "Each ratio is taken between runs of the same repetition, minutes (for a "
              "feature on and off, seconds) apart; median (min–max) over the repetitions. "
              "Every baedal run has the HTTP listener on (port 0), the loop-health "
              "measurement compiled in and `riders=` as many as its orders; \"off\" is "
              "`--http off`, the server built with `-DBAEDAL_NO_HEALTH`, and no `riders=`.",
              "", table(["figure", "median (min–max)", "target", "verdict"],
                        ratio_rows(cfg, res)), "",
              "## Targets in absolute figures", "",
              table(["#", "figure", "median (min–max)", "target", "verdict"],
                    target_rows(cfg, res)), "",
              "## Browsers and riders", "",
              "A browser here is an event stream (`GET /events?session=ID`) of the "
              "session that runs the work, read over loopback like the page's "
              "EventSource reads it. The lesson runs with none and with %d of them, "
              "back to back in every repetition." % cfg["sse_clients"], "",
              table(["figure", "median (min–max)", "target", "verdict"],
                    browser_rider_rows(cfg, res)), "",
              "## Beside the peers (same workload, in-process, no network, no storage "
              "for the peers; baedal through its server with every row stored, its "
              "client asking for the run's end only (WATCH ends), and baedal-watched "
              "with the client reading every event line too)", "",
              table(["N meal", "program", "makespan s", "p99 lateness ms", "peak RSS MB",
                     "makespan ÷ baedal's", "RSS ÷ baedal's"], peer_rows(res["scaling"])), "",
              "Lateness: an order's completion (collected) minus its ideal (its meal, "
              "from the run's start). baedal's rows come from SQLite after the run.", "",
              "## Commands", "", "```"] + commands + ["```", ""]
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            lines += [f.read()]
    return "\n".join(lines)


README_BEGIN = "<!-- bench: from bench/results/latest.md -->"
README_END = "<!-- bench: end -->"


def update_readme(path, machine, cfg, res):
    """Puts the ratio table between the README's two markers; False if
    they are not there."""
    with open(path) as f:
        text = f.read()
    a, b = text.find(README_BEGIN), text.find(README_END)
    if a < 0 or b < a:
        return False
    block = "\n".join([README_BEGIN, "", "%s, %s, load %s before, %s after:" % (
        machine.get("date", "?"), machine.get("cpu", "?"), machine.get("load_before", "?"),
        machine.get("load_after", "?")), "", table(["figure", "median (min–max)", "target",
                                                    "verdict"], ratio_rows(cfg, res)), "",
        "Browsers (event streams of the session) and riders, in the same run:", "",
        table(["figure", "median (min–max)", "target", "verdict"],
              browser_rider_rows(cfg, res)), ""])
    with open(path, "w") as f:
        f.write(text[:a] + block + "\n" + text[b:])
    return True


def plot(res, stem):
    """makespan and peak RSS against N, meal 1 s, for baedal and the peers."""
    if not shutil.which("gnuplot"):
        return None
    sc = res["scaling"]
    ns = sorted({int(k.split()[0]) for _, k in sc if k.endswith(" 1s")})
    data = stem + ".dat"
    with open(data, "w") as f:
        f.write("# N " + " ".join("%s_makespan %s_rss" % (p, p) for p in PROGRAMS) + "\n")
        for n in ns:
            cells = []
            for p in PROGRAMS:
                runs = sc.get((p, "%d 1s" % n), [])
                mk, rss = stat([r["makespan_s"] for r in runs]), stat([r["rss_mb"] for r in runs])
                cells += ["%.4f" % mk[0] if mk else "NaN", "%.1f" % rss[0] if rss else "NaN"]
            f.write("%d %s\n" % (n, " ".join(cells)))
    curves = lambda col: ", ".join(  # noqa: E731
        "'%s' using 1:%d with linespoints title '%s'" % (data, 2 + 2 * i + col, p)
        for i, p in enumerate(PROGRAMS))
    script = "\n".join([
        "set terminal pngcairo size 1100,450" if "pngcairo" in sh("gnuplot -e 'set terminal'")
        else "set terminal png size 1100,450",
        "set output '%s.png'" % stem, "set multiplot layout 1,2", "set logscale x",
        "set key left top", "set grid", "set xlabel 'concurrent orders N (meal 1 s)'",
        "set ylabel 'makespan s (ideal 1.0)'", "set logscale y", "plot " + curves(0),
        "set ylabel 'peak RSS MB'", "plot " + curves(1), "unset multiplot", ""])
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    return stem + ".png" if r.returncode == 0 else None
