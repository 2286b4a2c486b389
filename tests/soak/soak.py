#!/usr/bin/python3
"""The soak test: crpc-server under minutes of mixed load from crpc's,
grpcio's and grpc-js's clients at once, built with AddressSanitizer.

Starts one crpc-server from BUILD_DIR (an ASan build: make soak uses
build-asan) serving the test module's WorkerTest and LoopTest
(tests/server/README.md), and a relay in this process that resets a
connection both ways when the server's reply "hello CUT!" passes through
it. Then three clients, each its own process (crpc-soak-client,
soak_client.py, soak_client.js), call the server with every method kind
on both services: calls that complete, calls whose short deadline passes,
calls the client cancels, channels closed and connections cut under
running calls (README.md lists the scenarios). They first run for
--warmup seconds; after --idle seconds without load the server's resident
memory is the baseline. They then run for --seconds; after --idle seconds
without load again the memory is measured once more. The server's RSS is
sampled every second throughout. The run passes when:
  - every client exits 0 on time, with no call lost (an outcome its
    scenario does not expect, or a wrong reply) or hung (unfinished
    5 s after its deadline), both times;
  - the server's RSS after the load is within RSS_GROWTH of the baseline,
    or RSS_SLACK_MIB, whichever is larger;
  - on SIGTERM the server exits 0 within its drain time, and within
    IDLE_EXIT_S, as every call ended with its client;
  - neither the server's log nor the crpc client's has a sanitizer report
    (ASan, LeakSanitizer at exit, UBSan).

Usage: soak.py BUILD_DIR SOURCE_DIR [--seconds N] [--warmup N] [--idle N]
                                    [--threads N]
Prints the clients' figures, the RSS baseline, peak and after, and PASS or
FAIL with the reasons (and the logs of what failed); exits 0 or 1. The
whole run is bounded: past --seconds plus its setup it is killed.
"""
import argparse
import json
import os
import re
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "peers", "python"))
import require  # noqa: E402
require.modules("grpc", "google.protobuf")
require.programs("node", "protoc", "grpc_python_plugin")
import procs  # noqa: E402

CUT_MARKER = b"hello CUT!"
WORKERS = 2
LOOPS = 2
DRAIN_SECONDS = 10
# With no client left, a clean drain takes a fraction of a second.
IDLE_EXIT_S = 3
START_TIMEOUT_S = 60
# A client stops by itself at its end; past it, its calls have at most
# their deadline (10 s) and grace (5 s) twice over to end.
CLIENT_OVERTIME_S = 60
# The memory check needs two of the server's ASan options changed from the
# test suites' (tests/CMakeLists.txt's CRPC_TEST_ENV, which the crpc client
# keeps). ASan's quarantine holds the last freed blocks and so keeps the
# pages they sit on resident; the further the heap has spread, the more
# pages that is, so RSS after the load grows with the run's length while
# the live heap does not. Measured on two cores with this load: the default
# 256 MiB quarantine was still climbing after 60 s; 8 MiB levelled off
# after 70 s, 27 MiB up; 1 MiB was 4 MiB up after 100 s and 8 MiB after
# 600 s, about 4.5 MiB more for each tenfold length. Without a quarantine
# RSS follows what the server holds: +0.4 MiB over 150 s in which 27000
# connections were opened and reset, +1.6 MiB over 600 s of this load
# (190000 calls, 16500 connections reset). So the server runs without one; use after free is the suites' to find (and the
# crpc client's here). detect_stack_use_after_return gives every thread a
# fake stack of up to 11 MiB whose pages the calls touch a few more of each
# second (RSS +0.65 MiB/s for 60 s, still climbing), so it is off too.
SERVER_ASAN_OPTIONS = ("detect_leaks=1:detect_stack_use_after_return=0:"
                       "allocator_may_return_null=1:quarantine_size_mb=0:"
                       "thread_local_quarantine_size_kb=0")
SUITE_ASAN_OPTIONS = ("detect_leaks=1:detect_stack_use_after_return=1:"
                      "allocator_may_return_null=1")
RSS_GROWTH = 0.10
RSS_SLACK_MIB = 4
# RSS at rest: the median of the samples over the last seconds of an idle
# pause, once stand-in worker threads (which end after 5 s idle) and the
# server's once-a-second sweep have had their turn.
RSS_WINDOW_S = 3
# Every process started, for the hard stop.
CHILDREN = []
SANITIZER_REPORT = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|"
    r"runtime error:")


def sanitizer_env(source, asan_options):
    """The sanitizer options of tests/CMakeLists.txt's CRPC_TEST_ENV, with
    |asan_options| for ASan's."""
    return {
        "ASAN_OPTIONS": asan_options,
        "LSAN_OPTIONS": "suppressions=" + os.path.join(source, "tests", "lsan.supp"),
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }


class CuttingRelay:
    """Listens on 127.0.0.1 (port in .port) and relays each connection to
    |dest|, a (host, port). When the server sends CUT_MARKER on a
    connection, the relay resets it both ways (SO_LINGER 0, then close):
    the bytes holding the marker never reach the client, and client and
    server both see a TCP reset in the middle of their calls. One thread,
    a selector; .connections and .cuts count what it did."""

    def __init__(self, dest):
        self.dest = dest
        self.connections = 0
        self.cuts = 0
        self._sel = selectors.DefaultSelector()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            for key, _ in self._sel.select(timeout=0.2):
                if key.data is None:
                    self._accept()
                else:
                    self._relay(*key.data)

    def _accept(self):
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        try:
            server = socket.create_connection(self.dest, timeout=5)
        except OSError:
            client.close()
            return
        client.settimeout(5)  # a send may wait that long, never for ever
        self.connections += 1
        pair = {"client": client, "server": server, "tail": b"", "open": True}
        self._sel.register(client, selectors.EVENT_READ, (pair, client, server))
        self._sel.register(server, selectors.EVENT_READ, (pair, server, client))

    def _relay(self, pair, src, dst):
        if not pair["open"]:
            return
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close(pair, reset=False)
            return
        if src is pair["server"]:
            seen = pair["tail"] + data
            if CUT_MARKER in seen:
                self.cuts += 1
                self._close(pair, reset=True)
                return
            pair["tail"] = seen[-(len(CUT_MARKER) - 1):]
        try:
            dst.sendall(data)
        except OSError:
            self._close(pair, reset=False)

    def _close(self, pair, reset):
        pair["open"] = False
        for s in (pair["client"], pair["server"]):
            self._sel.unregister(s)
            if reset:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            s.close()

    def close(self):
        self._stop = True
        self._thread.join()
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()
        self._sel.close()


class RssSampler:
    """Reads the server's VmRSS every second; .samples is a list of
    (seconds since start, KiB)."""

    def __init__(self, pid):
        self.pid = pid
        self.t0 = time.monotonic()
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def _run(self):
        while not self._stop.wait(1.0):
            rss = self.rss_kib()
            if rss is not None:
                self.samples.append((time.monotonic() - self.t0, rss))

    def now(self):
        return time.monotonic() - self.t0

    def at_rest(self, since):
        """The median RSS sampled after |since| (sampler seconds)."""
        window = [kib for t, kib in self.samples if t >= since]
        return statistics.median(window) if window else self.rss_kib()

    def peak(self):
        return max((kib for _, kib in self.samples), default=0)

    def stop(self):
        self._stop.set()
        self._thread.join()


class Client:
    """One client process; its stdout and stderr go to files in |workdir|."""

    def __init__(self, kind, cmd, env, workdir, phase):
        self.kind = kind
        self.phase = phase
        self.out_path = os.path.join(workdir, "%s-%s.out" % (kind, phase))
        self.err_path = os.path.join(workdir, "%s-%s.err" % (kind, phase))
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(procs.dying_with_parent(cmd),
                                         stdout=out, stderr=err, env=env)
        CHILDREN.append(self.proc)
        self.result = None
        self.problem = None

    def wait(self, deadline):
        """Waits until |deadline| (monotonic); kills the client if it is
        still running then. Sets .result (its JSON line) and .problem."""
        try:
            rc = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.problem = "still running %d s after its end; killed" % CLIENT_OVERTIME_S
            rc = None
        lines = [ln for ln in self.read(self.out_path).splitlines()
                 if ln.startswith("{")]
        if lines:
            try:
                self.result = json.loads(lines[-1])
            except ValueError:
                pass
        if self.problem:
            return
        if self.result is None:
            self.problem = "exit status %s and no JSON line" % rc
        elif self.result["lost"] or self.result["hung"]:
            self.problem = "%d lost, %d hung: %s" % (
                self.result["lost"], self.result["hung"],
                "; ".join(self.result["failures"]))
        elif rc != 0:
            self.problem = "exit status %d" % rc
        elif SANITIZER_REPORT.search(self.read(self.err_path)):
            self.problem = "a sanitizer report in its stderr"

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")


def run_clients(args, port, cut_port, seconds, workdir, phase):
    """Runs the three clients at once for |seconds|; returns them."""
    common = ["--target", "127.0.0.1:%d" % port,
              "--cut-target", "127.0.0.1:%d" % cut_port,
              "--seconds", str(seconds), "--threads", str(args.threads)]
    here = os.path.join(args.source, "tests", "soak")
    cmds = {
        "crpc": [os.path.join(args.build, "tests", "soak", "crpc-soak-client")],
        "grpcio": ["/usr/bin/python3", os.path.join(here, "soak_client.py")],
        "grpc-js": ["node", os.path.join(here, "soak_client.js")],
    }
    env = dict(os.environ, **sanitizer_env(args.source, SUITE_ASAN_OPTIONS))
    clients = [Client(k, cmd + common, env, workdir, phase)
               for k, cmd in cmds.items()]
    deadline = time.monotonic() + seconds + CLIENT_OVERTIME_S
    for c in clients:
        c.wait(deadline)
    return clients


def totals(runs):
    """Per client kind: calls and outcomes summed over its runs."""
    out = {}
    for c in runs:
        t = out.setdefault(c.kind, {"calls": 0, "outcomes": {}, "scenarios": {}})
        if c.result is None:
            continue
        t["calls"] += c.result["calls"]
        for key in ("outcomes", "scenarios"):
            for k, v in c.result[key].items():
                t[key][k] = t[key].get(k, 0) + v
    return out


def print_table(runs):
    cols = ["OK", "DEADLINE_EXCEEDED", "CANCELLED", "UNAVAILABLE"]
    print("%-8s %8s %8s %18s %10s %12s %6s" % ("client", "calls", *cols, "other"))
    for kind, t in totals(runs).items():
        o = t["outcomes"]
        other = sum(v for k, v in o.items() if k not in cols)
        print("%-8s %8d %8d %18d %10d %12d %6d" % (
            kind, t["calls"], *(o.get(k, 0) for k in cols), other))
    for kind, t in totals(runs).items():
        print("# %s scenarios: %s" % (kind, ", ".join(
            "%s %d" % kv for kv in t["scenarios"].items())))


def stop_server(server, failures):
    """SIGTERM; the server must exit 0 within the drain time, and soon:
    every client has gone, so the drain has no call to wait for unless a
    handler missed its call's end."""
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        rc = server.proc.wait(timeout=DRAIN_SECONDS + 10)
    except subprocess.TimeoutExpired:
        failures.append("the server still ran %d s after SIGTERM"
                        % (DRAIN_SECONDS + 10))
        return
    took = time.monotonic() - t0
    print("# the server exited with status %d %.1f s after SIGTERM (drain "
          "time %d s)" % (rc, took, DRAIN_SECONDS))
    if rc != 0 or took > DRAIN_SECONDS:
        failures.append("the server exited with status %d after %.1f s"
                        % (rc, took))
    elif took > IDLE_EXIT_S:
        failures.append("the server took %.1f s to drain with no client "
                        "left: a call outlived its connection" % took)


def log_summary(log):
    """The server's warnings and errors, counted by kind (digits elided)."""
    kinds = {}
    for line in log.splitlines():
        if line.startswith(("crpc warn", "crpc error")):
            kind = re.sub(r"\d+", "N", line)
            kinds[kind] = kinds.get(kind, 0) + 1
    print("# server log: %d warnings or errors" % sum(kinds.values()))
    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:10]:
        print("#   %5d x %s" % (n, kind))


def soak(args, workdir, failures):
    """Runs the server, the relay and both rounds of clients, and checks
    what can be checked while the server runs; adds what fails to
    |failures|. Returns the server's log and the client runs."""
    cmd = [os.path.join(args.build, "server", "bin", "crpc-server"),
           "--module", os.path.join(args.build, "tests", "server",
                                    "crpc_server_test_module.so"),
           "--listen", "127.0.0.1:0", "--loops", str(LOOPS),
           "--workers", str(WORKERS), "--drain-seconds", str(DRAIN_SECONDS)]
    server = procs.LoggedProcess(cmd, os.path.join(workdir, "server.log"))
    CHILDREN.append(server.proc)
    relay = sampler = None
    runs = []
    try:
        (m,) = server.wait_for([r"listening on 127\.0\.0\.1:(\d+)"], START_TIMEOUT_S)
        port = int(m.group(1))
        relay = CuttingRelay(("127.0.0.1", port))
        sampler = RssSampler(server.proc.pid)
        print("# crpc-server pid %d on 127.0.0.1:%d, cutting relay on "
              "127.0.0.1:%d" % (server.proc.pid, port, relay.port), flush=True)

        for phase, seconds in (("warmup", args.warmup), ("soak", args.seconds)):
            print("# %s: %d s of load" % (phase, seconds), flush=True)
            clients = run_clients(args, port, relay.port, seconds, workdir, phase)
            runs += clients
            for c in clients:
                if c.problem:
                    failures.append("%s client (%s): %s" % (c.kind, phase, c.problem))
            time.sleep(args.idle)
            if server.proc.poll() is not None:
                raise RuntimeError("the server exited with status %d during the "
                                   "%s" % (server.proc.returncode, phase))
            rest = sampler.at_rest(sampler.now() - RSS_WINDOW_S)
            if phase == "warmup":
                baseline = rest
                load_start = sampler.now()
            else:
                after = rest
        peak = max((kib for t, kib in sampler.samples if t >= load_start), default=0)
        limit = baseline + max(baseline * RSS_GROWTH, RSS_SLACK_MIB * 1024)
        print("# relay: %d connections, %d cut" % (relay.connections, relay.cuts))
        print_table(runs)
        print("# server RSS every 10 s (MiB): " + " ".join(
            "%.0f" % (kib / 1024) for t, kib in sampler.samples[::10]))
        print("server RSS: baseline %.1f MiB (after warm-up), peak %.1f MiB, "
              "after %.1f MiB (limit %.1f MiB)" % (
                  baseline / 1024, peak / 1024, after / 1024, limit / 1024))
        if after > limit:
            failures.append("the server's RSS grew from %.1f to %.1f MiB "
                            "(limit %.1f MiB)" % (baseline / 1024, after / 1024,
                                                  limit / 1024))
        stop_server(server, failures)
    except RuntimeError as e:  # the server did not start, or it died
        failures.append(str(e))
    finally:
        if sampler:
            sampler.stop()
        if relay:
            relay.close()
        server.kill()
    log = server.read_log()
    log_summary(log)
    if SANITIZER_REPORT.search(log):
        failures.append("a sanitizer report in the server's log")
    return log, runs


def hard_stop(budget):
    """The run took longer than |budget| seconds: kill everything, fail."""
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
    for p in CHILDREN:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    print("not ok - the run took longer than %d s: every process it started "
          "was killed\nsoak: FAIL" % budget, flush=True)
    os._exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", metavar="BUILD_DIR")
    ap.add_argument("source", metavar="SOURCE_DIR")
    ap.add_argument("--seconds", type=int, default=120,
                    help="load after the warm-up (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=10,
                    help="load before the baseline (default: %(default)s)")
    ap.add_argument("--idle", type=int, default=5,
                    help="pause before each RSS measure (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=4,
                    help="calling threads or tasks per client (default: %(default)s)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.source = os.path.abspath(args.source)
    if args.idle < RSS_WINDOW_S:
        ap.error("--idle must be at least %d" % RSS_WINDOW_S)

    # Everything is bounded: the load, two pauses, the clients' overtime,
    # the drain and the start.
    budget = (args.warmup + args.seconds + 2 * (args.idle + CLIENT_OVERTIME_S)
              + DRAIN_SECONDS + 2 * START_TIMEOUT_S)
    signal.signal(signal.SIGALRM, lambda *_: hard_stop(budget))
    signal.alarm(budget)

    # The server inherits them; the clients get the suites'.
    os.environ.update(sanitizer_env(args.source, SERVER_ASAN_OPTIONS))
    t0 = time.monotonic()
    failures = []
    workdir = tempfile.mkdtemp(prefix="crpc-soak-")
    log, runs = soak(args, workdir, failures)
    print("wall time: %.0f s (%d s warm-up, %d s soak)" % (
        time.monotonic() - t0, args.warmup, args.seconds))
    if failures:
        for c in runs:
            if c.problem:
                for path in (c.out_path, c.err_path):
                    text = Client.read(path)
                    if text:
                        print("--- %s ---\n%s" % (os.path.basename(path), text[-8000:]))
        print("--- server log (last 200 lines) ---\n" + "\n".join(log.splitlines()[-200:]))
        for f in failures:
            print("not ok - " + f)
        print("soak: FAIL (logs in %s)" % workdir)
        sys.exit(1)
    for name in os.listdir(workdir):
        os.unlink(os.path.join(workdir, name))
    os.rmdir(workdir)
    print("soak: PASS")


if __name__ == "__main__":
    main()
