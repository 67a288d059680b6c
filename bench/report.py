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
    lines += ["", "## Targets", "",
              table(["#", "figure", "median (min–max)", "target", "verdict"],
                    target_rows(cfg, res)), "",
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
