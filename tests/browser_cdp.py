#!/usr/bin/env python3
"""Drives a headless Chromium through the DevTools protocol (the standard
library only): waits until the session's page shows its runs done, prints
the rendered runs, saves a screenshot. Then, given the list's URL, opens
it, starts a run with CLIENT... once the list is drawn, and waits until
the list shows the new run and then its final status, without a reload.
Used by tests/browser.sh.

usage: browser_cdp.py DEVTOOLS_PORT_FILE SCREENSHOT.png TIMEOUT_S
                      [LIST_URL LIST_SCREENSHOT.png CLIENT...]
"""
import base64, json, os, re, socket, struct, subprocess, sys, time, urllib.request

# What the page shows, read from its DOM.
PROBE = """JSON.stringify({
  runs: [...document.querySelectorAll('section.run')].map(s => ({
    run: s.dataset.run, status: s.dataset.status,
    orders: [...s.querySelectorAll('.order')].map(o => o.dataset.order + ':' + o.dataset.status)})),
  totals: [...document.querySelectorAll('#totals tbody tr')].map(
    tr => [...tr.cells].map(td => td.textContent)),
  loop: document.querySelectorAll('.row.loop .bar.stall').length,
  stalls: [...document.querySelectorAll('#stall-list li.stall')].map(li => li.textContent),
  summary: document.getElementById('stalls').textContent,
  error: document.getElementById('error').textContent})"""
RUNS = 3
# The list of recent runs at /.
RECENT = """JSON.stringify({
  shown: !document.getElementById('recent-box').hidden,
  rows: [...document.querySelectorAll('#recent tbody tr')].map(
    tr => ({run: tr.dataset.run, status: tr.dataset.status})),
  error: document.getElementById('error').textContent})"""


def stalled(state):
    """The 300 ms cook's stall: drawn on a loop row and listed with its hold."""
    held = [int(m.group(1)) for t in state.get('stalls', [])
            for m in [re.match(r'loop stalled (\d+) ms: ', t)] if m]
    return (state.get('loop', 0) >= 1 and any(ms >= 300 for ms in held)
            and state.get('summary', '').startswith('The loop stalled '))


class WebSocket:
    def __init__(self, url):
        host, _, path = url[len('ws://'):].partition('/')
        h, _, p = host.partition(':')
        self.sock = socket.create_connection((h, int(p)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f'GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n'
                           f'Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n'
                           'Sec-WebSocket-Version: 13\r\n\r\n').encode())
        head = b''
        while b'\r\n\r\n' not in head:
            head += self.sock.recv(1)
        if b' 101 ' not in head.split(b'\r\n')[0]:
            raise RuntimeError('no websocket: ' + head.decode(errors='replace'))
        self.next_id = 0

    def _recv_exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError('devtools closed the connection')
            buf += chunk
        return buf

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = b'\x81' + (bytes([0x80 | n]) if n < 126 else
                          struct.pack('!BH', 0x80 | 126, n) if n < 65536 else
                          struct.pack('!BQ', 0x80 | 127, n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        message = b''
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack('!H', self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack('!Q', self._recv_exact(8))[0]
            message += self._recv_exact(n)
            if b0 & 0x80:
                return message.decode()

    def call(self, method, **params):
        self.next_id += 1
        self.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        while True:
            reply = json.loads(self.recv())
            if reply.get('id') == self.next_id:
                if 'error' in reply:
                    raise RuntimeError(f'{method}: {reply["error"]}')
                return reply['result']


def page_socket(port_file, deadline):
    while time.time() < deadline:
        try:
            port = int(open(port_file).read().split()[0])
            targets = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list'))
            pages = [t for t in targets if t.get('type') == 'page']
            if pages:
                return WebSocket(pages[0]['webSocketDebuggerUrl'])
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.2)
    raise RuntimeError('chromium did not open its devtools port')


def probe(ws, expression):
    res = ws.call('Runtime.evaluate', expression=expression, returnByValue=True)
    return json.loads(res['result'].get('value') or '{}')


def screenshot(ws, png):
    shot = ws.call('Page.captureScreenshot', format='png')
    with open(png, 'wb') as f:
        f.write(base64.b64decode(shot['data']))


def session_page(ws, png, deadline):
    """The session's runs, drawn live until done."""
    seen_running = done = False
    state = {}
    while time.time() < deadline:
        state = probe(ws, PROBE)
        runs = state.get('runs', [])
        seen_running |= any(r['status'] == 'running' for r in runs)
        done = (len(runs) == RUNS and stalled(state) and all(r['status'] == 'done' for r in runs)
                and all(o.endswith(':collected') for r in runs for o in r['orders'])
                and len(state.get('totals', [])) == RUNS
                and all(t[3] == 'done' and t[4] != '-' for t in state['totals']))
        if done:
            break
        time.sleep(0.2)
    screenshot(ws, png)
    print(json.dumps(state, indent=1))
    print('seen running:', seen_running)
    if not done:
        sys.exit('the page did not show the runs done with every order collected '
                 'and the stall of the loop')
    if not seen_running:
        sys.exit('the page never showed a run running: it was not live')


def wait_recent(ws, deadline, until):
    """The list's state once until(rows) holds, or None at the deadline."""
    state = {}
    while time.time() < deadline:
        state = probe(ws, RECENT)
        if state.get('shown') and until(state.get('rows', [])):
            return state
        time.sleep(0.2)
    print(json.dumps(state, indent=1))
    return None


def recent_list(ws, url, png, client, deadline):
    """The list at url follows a run started after it was drawn."""
    ws.call('Page.navigate', url=url)
    state = wait_recent(ws, deadline, lambda rows: len(rows) >= RUNS)
    if not state:
        sys.exit('the list of recent runs was not drawn')
    before = {r['run'] for r in state['rows']}
    print('list before the run:', sorted(before))
    run = subprocess.Popen(client, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        state = wait_recent(ws, deadline, lambda rows: any(r['run'] not in before for r in rows))
        if not state:
            sys.exit('the new run never appeared in the list: it is not live')
        new = next(r for r in state['rows'] if r['run'] not in before)
        print('the new run appeared:', new)
        state = wait_recent(ws, deadline, lambda rows: any(
            r['run'] == new['run'] and r['status'] == 'done' for r in rows))
        if not state:
            sys.exit(f'run {new["run"]} never showed its final status in the list')
        print('and later:', [r for r in state['rows'] if r['run'] == new['run']][0])
        screenshot(ws, png)
        _, err = run.communicate(timeout=max(1, deadline - time.time()))
        if run.returncode != 0:
            sys.exit(f'the client failed ({run.returncode}): {err.decode(errors="replace")}')
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def main():
    port_file, png, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.time() + timeout
    ws = page_socket(port_file, deadline)
    session_page(ws, png, deadline)
    if len(sys.argv) > 6:
        recent_list(ws, sys.argv[4], sys.argv[5], sys.argv[6:], time.time() + timeout)


if __name__ == '__main__':
    main()
