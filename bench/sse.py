"""Browsers, as the benchmark sees them: raw Server-Sent Events streams
(GET /events?session=ID) that watch a session while its connection runs
commands over the protocol. One thread, one selector: a hundred streams
cost no threads.

watch(proto, http, n, commands, ...) connects to the protocol, opens n
streams of its session, sends the commands (WATCH, RUN, GEN lines) and
reads every stream until each has the done of every run; it returns the
runs' DONE lines (parsed), what each stream received and how many EV
lines the protocol connection itself received (none after WATCH ends)."""
import re
import selectors
import socket
import time

DONE_RE = re.compile(rb"(\w+)=(\S+)")


def _addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


class Stream:
    """One SSE client: counts its events, dones and lagged counts."""

    def __init__(self, http, session, rate):
        self.sock = socket.create_connection(_addr(http))
        self.sock.sendall(b"GET /events?session=%s HTTP/1.1\r\nHost: %s\r\n"
                          b"Accept: text/event-stream\r\n\r\n" % (session.encode(), http.encode()))
        self.rate = rate              # bytes/s, 0: as fast as it comes
        self.head, self.tail = b"", b""
        self.status = None
        self.events = self.dones = self.dropped = self.missed = 0
        self.bytes = 0
        self.closed = False           # the server ended the stream

    def feed(self, data):
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.head.split(b" ", 2)[1])
            data, self.head = self.head[end + 4:], b""
        self.bytes += len(data)
        # Whole events only (each ends in a blank line): a lagged event's
        # two lines may come in two reads.
        text = self.tail + data
        cut = text.rfind(b"\n\n")
        whole, self.tail = text[:cut + 2], text[cut + 2:]
        self.events += whole.count(b"\nevent: ev\n")
        self.dones += whole.count(b"\nevent: done\n")
        for m in re.finditer(rb'event: lagged\ndata: \{"(dropped|missed)":(\d+)\}', whole):
            if m.group(1) == b"dropped":
                self.dropped += int(m.group(2))
            else:
                self.missed += int(m.group(2))


def _read_line(sock, buf):
    while b"\n" not in buf[0]:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the protocol connection")
        buf[0] += chunk
    line, buf[0] = buf[0].split(b"\n", 1)
    return line


def watch(proto, http, n, commands, runs, rate=0, timeout=300, sample=None):
    """runs: how many DONEs end the commands. sample(): called every 50 ms
    while it waits (the caller's RSS sampler)."""
    ctl = socket.create_connection(_addr(proto))
    buf = [b""]
    hello = _read_line(ctl, buf)
    session = re.search(rb"session=([0-9a-f]{32})", hello).group(1).decode()
    streams = [Stream(http, session, rate) for _ in range(n)]
    sel = selectors.DefaultSelector()
    for st in streams:
        st.sock.setblocking(False)
        sel.register(st.sock, selectors.EVENT_READ, st)
    # Every stream's headers before the first command: none misses a step.
    deadline = time.monotonic() + 30
    while any(st.status is None for st in streams) and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            key.data.feed(key.fileobj.recv(65536))
    if any(st.status != 200 for st in streams):
        raise RuntimeError("an event stream was refused: %s" % [st.status for st in streams])
    ctl.setblocking(False)
    sel.register(ctl, selectors.EVENT_READ, None)
    ctl.sendall(b"".join(c.encode() + b"\n" for c in commands))
    dones, ctl_buf, last = [], b"", time.monotonic()
    ctl_events = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(dones) == runs and all(st.dones >= runs or st.closed for st in streams):
            break
        for key, _ in sel.select(0.05):
            if key.data is None:
                chunk = ctl.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("the server closed the protocol connection")
                ctl_buf += chunk
                *lines, ctl_buf = ctl_buf.split(b"\n")
                for line in lines:
                    if line.startswith(b"EV "):
                        ctl_events += 1
                    elif line.startswith(b"DONE "):
                        dones.append({k.decode(): v.decode() for k, v in DONE_RE.findall(line)})
                    elif line.startswith(b"ERR "):
                        raise RuntimeError(line.decode())
            else:
                st = key.data
                # A slow reader takes a tenth of its rate every 100 ms.
                want = 1 << 20 if not st.rate else max(1, st.rate // 10)
                try:
                    data = key.fileobj.recv(want)
                except BlockingIOError:
                    continue
                if data:
                    st.feed(data)
                else:
                    st.closed = True
                    sel.unregister(key.fileobj)
        if sample and time.monotonic() - last >= 0.05:
            sample()
            last = time.monotonic()
        if rate:
            time.sleep(0.1)
    for st in streams:
        st.sock.close()
    ctl.close()
    if len(dones) < runs:
        raise RuntimeError("%d of %d runs ended within %d s" % (len(dones), runs, timeout))
    return dones, streams, ctl_events
