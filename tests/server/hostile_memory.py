#!/usr/bin/python3
"""What floods of connections and streams cost a gRPC server, and whether
it gives the memory back.

Each case attacks with many connections at once, measures the server's
resident memory (RSS, from /proc/PID/status) before, at its peak and after
the attacker has left, checks that a well-behaved client is answered
promptly throughout, and that the memory returns to within a few MiB of
where it was within a few seconds. The server must allow thousands of
connections (no --max-connections), which is why these cases do not run
with bad_input.py's, whose server has a limit of 64.

Usage: hostile_memory.py --target HOST:PORT --pid PID [--only NAME,...]
                         [--timeout S] [--budget S]
Output and exit status as bad_input.py's.
"""
import os
import resource
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bad_input as b  # noqa: E402
from bad_input import Failure  # noqa: E402

# Memory a case may leave behind once the attacker is gone, and how long
# the server has to give the rest back (its sweep runs every second).
SETTLED_KIB = 6 * 1024
SETTLE_S = 10.0
# A well-behaved call while the attack goes on: its median, and its worst
# (the attacker here takes one of the machine's CPUs, and make test runs
# other tests beside it).
PROBE_MEDIAN_S = 0.25
PROBE_LIMIT_S = 2.5
# Under a sanitizer (CRPC_TEST_SANITIZED set by the build's ctest), RSS is
# mostly the sanitizer's own (ASan holds freed memory in quarantine, TSan's
# shadow follows the heap), and everything runs 5 to 15 times slower: the
# attacks and probes still run and every probe must be answered, but
# memory and latency are reported, not judged.
SANITIZED = bool(os.environ.get("CRPC_TEST_SANITIZED"))
if SANITIZED:
    PROBE_MEDIAN_S = PROBE_LIMIT_S = 10.0

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def fd_room(want):
    """Raises this process's open-file limit as far as allowed; returns
    how many of |want| connections fit in it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft == resource.RLIM_INFINITY:
        return want
    return max(0, min(want, soft - 64))


class Watch:
    """Samples the server's RSS every 50 ms and probes it with a normal
    unary call to each of |services| every 200 ms until stopped; remembers
    the peak and the slowest probe."""

    def __init__(self, run, services=(b.WORKER, b.LOOP)):
        self.run = run
        self.services = services
        self.rss0 = run.rss_kib()
        self.peak = self.rss0
        self.times = []
        self.error = None
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sample),
                         threading.Thread(target=self._probe)]
        for t in self._threads:
            t.start()

    def _sample(self):
        while not self._stop.wait(0.05):
            rss = self.run.rss_kib()
            if rss is not None:
                self.peak = max(self.peak, rss)

    def _probe(self):
        while not self._stop.wait(0.2):
            t0 = time.monotonic()
            try:
                probe(self.run, self.services)
            except Failure as e:
                self.error = self.error or str(e)
                continue
            self.times.append(time.monotonic() - t0)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()
        if self.error:
            raise Failure("during the attack a normal call failed: " +
                          self.error)
        if not self.times:
            raise Failure("no normal call was answered during the attack")
        if self.median() > PROBE_MEDIAN_S or max(self.times) > PROBE_LIMIT_S:
            raise Failure("during the attack normal calls took %.0f ms "
                          "(median), %.0f ms at most" %
                          (self.median() * 1000, max(self.times) * 1000))

    def median(self):
        t = sorted(self.times)
        return t[len(t) // 2]

    def settle(self):
        """Waits for RSS to come back near where it started; returns it."""
        if SANITIZED:
            return self.run.rss_kib()
        end = time.monotonic() + SETTLE_S
        while True:
            rss = self.run.rss_kib()
            if rss <= self.rss0 + SETTLED_KIB:
                return rss
            if time.monotonic() > end:
                raise Failure(
                    "RSS %d KiB %.0f s after the attack, %d KiB before "
                    "(peak %d KiB)" % (rss, SETTLE_S, self.rss0, self.peak))
            time.sleep(0.1)

    def summary(self, rss_after):
        return "RSS %.1f -> peak %.1f -> %.1f MiB%s; %d probes, median " \
            "%.0f ms, slowest %.0f ms" % (
                self.rss0 / 1024, self.peak / 1024, rss_after / 1024,
                " (sanitizer: not judged)" if SANITIZED else "",
                len(self.times), self.median() * 1000,
                max(self.times) * 1000)


def probe(run, services, wait=None):
    """A normal unary call to each of |services| on a new connection,
    answered within |wait| seconds (default twice PROBE_LIMIT_S)."""
    c = run.conn()
    try:
        calls = [c.unary(svc + "Unary", b.req(name="probe"))
                 for svc in services]
        b.wait_streams(run, c, calls, wait or PROBE_LIMIT_S * 2)
        for st in calls:
            b.expect_ok_reply(st, "probe")
    finally:
        c.close()


def open_raw(run, n, first):
    """|n| connections, each sent |first| at once; bytes the server sends
    are read and dropped. Returns the sockets."""
    import socket
    host, port = run.target.rsplit(":", 1)
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=run.left())
        s.setblocking(False)
        socks.append(s)
    pending = [[s, 0] for s in socks]
    while pending:
        run.left()
        left = []
        for ent in pending:
            s, off = ent
            try:
                ent[1] += s.send(first[off:off + 65536])
            except BlockingIOError:
                pass
            drain(s)
            if ent[1] < len(first):
                left.append(ent)
        pending = left
    return socks


def drain(s):
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


def close_all(socks):
    for s in socks:
        s.close()


@case
def thousands_of_idle_connections(run):
    """2000 connections that finish the HTTP/2 handshake and then send
    nothing: a bounded cost each (the server's session and buffers), a
    normal client served meanwhile, and the memory back once they close."""
    n = fd_room(2000)
    if n < 500:
        return "skipped: room for %d connections only" % n
    w = Watch(run)
    socks = []
    try:
        socks = open_raw(run, n, b.PREFACE + b.settings_frame() +
                         b.frame(b.SETTINGS, b.ACK, 0))
        time.sleep(1.0)
        for s in socks:
            drain(s)
        held = run.rss_kib()
    finally:
        close_all(socks)
        w.stop()
    each = (held - w.rss0) / n
    if each > 40 and not SANITIZED:
        raise Failure("%.1f KiB per idle connection" % each)
    after = w.settle()
    return "%d connections, %.1f KiB each; %s" % (n, each, w.summary(after))


def rapid_reset_burst(n):
    """A preface and |n| streams, each opened and at once reset."""
    block = b.header_block([
        (":method", "POST"), (":scheme", "http"),
        (":path", b.WORKER + "Unary"), (":authority", "localhost"),
        ("content-type", "application/grpc"), ("te", "trailers")])
    out = bytearray(b.PREFACE + b.settings_frame())
    for i in range(n):
        sid = 1 + 2 * i
        out += b.frame(b.HEADERS, b.END_HEADERS, sid, block)
        out += b.frame(b.RST_STREAM, 0, sid, struct.pack(">I", 8))  # CANCEL
    return bytes(out)


@case
def rapid_reset_over_many_connections(run):
    """CVE-2023-44487 spread over connections: for 4 s, rounds of 200
    connections each opening and resetting 500 streams. Memory stays
    bounded, a normal client is answered promptly, and the memory is given
    back once the attacker leaves. (A sanitized server is about ten times
    slower: 100 connections of 200 there.)"""
    n = fd_room(100 if SANITIZED else 200)
    resets = 200 if SANITIZED else 500
    burst = rapid_reset_burst(resets)
    w = Watch(run)
    rounds = 0
    cpu0 = run.cpu_seconds()
    try:
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            close_all(open_raw(run, n, burst))
            rounds += 1
    finally:
        w.stop()
    cpu = run.cpu_seconds() - cpu0
    grew = (w.peak - w.rss0) / 1024
    if grew > 256 and not SANITIZED:
        raise Failure("RSS grew by %.0f MiB" % grew)
    after = w.settle()
    return "%d rounds of %d connections x %d resets, server CPU %.1f s; " \
        "%s" % (rounds, n, resets, cpu, w.summary(after))


@case
def thousands_of_half_open_calls(run):
    """20 connections each opening 100 bidi streams (the per-connection
    limit), half on each placement, sending headers and nothing else, held
    for 4 s. Calls on the loop are served meanwhile as usual. The worker
    half takes every worker thread (their handlers wait to read), so the
    server sheds them: with calls waiting for a worker and none idle, a
    worker call that has waited on its client for pressure_stall_ms (1 s)
    is cancelled, and a unary worker call made during the attack is
    answered within a few seconds instead of when the attacker leaves.
    Memory stays bounded, and everything is freed when the connections
    go."""
    conns = []
    w = Watch(run, services=(b.LOOP,))
    worker = {}

    def worker_call():
        t0 = time.monotonic()
        try:
            probe(run, (b.WORKER,), wait=12.0 if SANITIZED else 8.0)
            worker["took"] = time.monotonic() - t0
        except Failure as e:
            worker["error"] = str(e)

    t = threading.Thread(target=worker_call)
    try:
        for i in range(20):
            c = run.conn()
            for j in range(100):
                c.open((b.WORKER if j % 2 else b.LOOP) + "Bidi")
            c.flush(run.left())
            conns.append(c)
        time.sleep(0.5)
        t.start()
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            for c in conns:
                c.pump(lambda: False, 0.01)
        t.join()
        shed = sum(1 for c in conns for st in c.streams.values() if st.done)
        if any(c.closed or c.goaway for c in conns):
            bad = [c for c in conns if c.closed or c.goaway][0]
            raise Failure("a connection ended: " + bad.describe())
    finally:
        for c in conns:
            c.close()
        w.stop()
    if "error" in worker:
        raise Failure("a worker call during the attack: " + worker["error"])
    limit = 10.0 if SANITIZED else 3.5
    if worker["took"] > limit:
        raise Failure("a worker call during the attack took %.1f s" %
                      worker["took"])
    after = w.settle()
    return "2000 half-open calls, %d of them shed; a worker call took " \
        "%.0f ms; %s" % (shed, worker["took"] * 1000, w.summary(after))


if __name__ == "__main__":
    sys.exit(b.main(CASES, __doc__))
