"""The baedal benchmark: the real server and client beside the same workload
in Python asyncio, Node and Go, measured minutes apart on one machine.

usage: python3 bench/bench.py [--quick] [--build DIR] [--out FILE] [--readme FILE]

Every server it starts listens on 127.0.0.1:0 with a fresh database in a
temporary directory and is stopped by its PID when its measurement ends,
when the suite fails, or when the suite itself is interrupted.
"""
import argparse
import atexit
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import probes  # noqa: E402

LIVE = {}           # pid -> Popen of every process still running
COMMANDS = []       # what was run, once each, for the results file


def stop_all():
    for pid, proc in list(LIVE.items()):
        if proc.poll() is None:
            os.kill(pid, signal.SIGKILL)
            proc.wait()
        LIVE.pop(pid, None)


def on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


def note(cmd):
    text = " ".join(cmd)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:$PORT", text)
    text = re.sub(r"/tmp/[^ ]*/", "$TMP/", text)
    text = re.sub(r"\$TMP/s\d+\.db", "$TMP/sN.db", text)
    if text not in COMMANDS:
        COMMANDS.append(text)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Server:
    """baedald on port 0 with a fresh database; peak RSS from wait4()."""

    def __init__(self, build, tmp, tag, binary="baedald", http="127.0.0.1:0"):
        self.db = os.path.join(tmp, tag + ".db")
        self.errpath = os.path.join(tmp, tag + ".log")
        cmd = [os.path.join(build, binary), "--listen", "127.0.0.1:0", "--http", http,
               "--db", self.db]
        note(cmd)
        self.err = open(self.errpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        LIVE[self.proc.pid] = self.proc
        self.addr = self._wait_listening()
        # logged before "listening on": known by now, when the listener is on
        with open(self.errpath) as f:
            m = re.search(r"http on (\S+)", f.read())
        self.http = m.group(1) if m else None
        self.maxrss_kb = None

    def _wait_listening(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(self.errpath) as f:
                m = re.search(r"listening on (\S+)", f.read())
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("baedald did not start: see " + self.errpath)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def peak_kb(self):
        """The server's peak RSS so far: VmHWM, the high-water mark of its
        own address space. Not wait4()'s ru_maxrss: Linux carries into it
        the RSS of the process that forked the server (this driver, which
        has held a million rows by then) from before the exec."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
        except (OSError, AttributeError):
            return None

    def stop(self):
        """SIGTERM (a graceful stop: everything committed) by PID, once
        its peak RSS is read."""
        if self.proc.poll() is None:
            self.maxrss_kb = self.peak_kb()
            os.kill(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        else:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        LIVE.pop(self.proc.pid, None)
        self.err.close()
        return self.maxrss_kb


def run_cmd(cmd, timeout, env=None, record=True):
    """Runs a program to its end, killed past timeout; returns stdout."""
    if record:
        note(cmd)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    LIVE[proc.pid] = proc
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        LIVE.pop(proc.pid, None)
        raise RuntimeError("timed out after %ds: %s" % (timeout, " ".join(cmd)))
    LIVE.pop(proc.pid, None)
    return out.decode()


def timed_cmd(cmd, timeout):
    """Runs cmd under /usr/bin/time -v: (stdout, peak RSS in KB)."""
    note(["/usr/bin/time", "-v"] + cmd)
    with tempfile.NamedTemporaryFile("r") as tv:
        out = run_cmd(["/usr/bin/time", "-v", "-o", tv.name] + cmd, timeout, record=False)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv.read())
    return out, int(m.group(1)) if m else None


def measure(args):
    """Runs every probe; returns what render() needs, also saved as JSON."""
    cfg = probes.config(args.quick)
    started = time.monotonic()
    machine = report.machine_info()
    with tempfile.TemporaryDirectory(prefix="baedal-bench-") as tmp:
        ctx = probes.Ctx(args.build, tmp, Server, run_cmd, timed_cmd, log)
        ctx.note = note
        results = probes.run_all(ctx, cfg)
    machine["load_after"] = report.loadavg()
    machine["duration_s"] = time.monotonic() - started
    sc = results["scaling"]
    results["scaling"] = {"%s|%s" % k: v for k, v in sc.items()}
    return {"machine": machine, "cfg": cfg, "results": results, "commands": COMMANDS}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="bench/results/latest.md")
    ap.add_argument("--from-json", help="render a saved run again instead of measuring")
    ap.add_argument("--readme", default="README.md",
                    help="the file whose bench block gets the figures (full runs only)")
    args = ap.parse_args()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    atexit.register(stop_all)
    stem = os.path.splitext(args.out)[0]
    if args.from_json:
        with open(args.from_json) as f:
            run = json.load(f)
    else:
        run = measure(args)
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(stem + ".json", "w") as f:
            json.dump(run, f, indent=1)
    res = run["results"]
    res["scaling"] = {tuple(k.split("|")): v for k, v in res["scaling"].items()}
    md = report.render(run["machine"], run["cfg"], res, run["commands"])
    with open(args.out, "w") as f:
        f.write(md)
    print(md)
    if not run["cfg"]["quick"] and args.readme:
        if not report.update_readme(args.readme, run["machine"], run["cfg"], res):
            log("no bench markers in " + args.readme + ": not updated")
    plot = report.plot(res, os.path.join(os.path.dirname(args.out),
                                         "scaling-quick" if run["cfg"]["quick"] else "scaling"))
    if plot:
        log("plot: " + plot)
    log("bench: %.0f s" % run["machine"]["duration_s"])


if __name__ == "__main__":
    main()
