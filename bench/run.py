#!/usr/bin/python3
"""crpc against gRPC C++, side by side in one run.

Every scenario runs crpc's server and gRPC C++'s async server (both serving
grpc.testing.BenchmarkService and helloworld.Greeter) under the same load,
the server pinned to one CPU and the load generator to the other (taskset),
in interleaved rounds (crpc, C++, crpc, C++, ...). Each figure is the median
of the rounds; the ratio column is crpc / gRPC C++.

  rate      calls (or rounds, or streamed messages) per second
  p50, p99  latency per call or round, from the load client, in µs
  cpu/call  server CPU time (user + system, /proc/PID/stat) per call, µs
  rss       the server's resident memory after the run, MiB

Scenarios: unary 1x1 (one channel, one call in flight: latency), unary 4x32
(throughput) with 0 B, 1 KiB and 64 KiB payloads, ping-pong streaming 1x1,
server streaming (messages/s), h2load sending gRPC unary requests (-c 16
-m 32), idle server memory and memory with 1000 open connections. Then the
pairings across implementations (crpc client -> C++ server, C++ client ->
crpc server), crpc's server with worker placement, and crpc's server with
its metrics on (--metrics_listen: every call counted and timed for
Prometheus, as crpc-server --metrics-listen does), whose rows set against
the same rows without give the cost of metrics.

The floor: the same rounds of a bare TCP echo (crpc-bench-echo, plain C,
one connection, 1-byte messages, closed loop) on the same two CPUs. Its
p50 and server CPU per round trip are what the machine itself charges for
any 1x1 round trip between those CPUs (cross-CPU wakeups, loopback TCP,
epoll): no framework can go below them. The floor line under the table
gives them, and for the unary 1x1 and ping-pong 1x1 rows "above the floor"
gives each side's distance from it and their ratio (crpc - floor) / (C++ -
floor), for p50 and for cpu/call. The floor runs whenever a 1x1 row does,
or when --only matches "floor".

Usage: run.py BUILD_DIR [--rounds N] [--seconds S] [--only TEXT] [--smoke]
  --smoke: every program once for about a second, nothing pinned, no
  table: checks the programs work (ctest bench_smoke), measures nothing.
"""
import argparse
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "peers", "python"))
import require  # noqa: E402

SERVER_CPU = "0"
CLIENT_CPU = "1"
START_TIMEOUT = 30
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
# The floor: a bare TCP echo of 1-byte messages, and the rows set against
# it.
FLOOR_LOAD = ("echo", 1)
ABOVE_FLOOR = ("unary 1x1", "ping-pong 1x1")


class Programs:
    def __init__(self, build):
        b = os.path.join(build, "bench")
        self.bench = b
        self.server = {
            "crpc": [os.path.join(b, "crpc", "crpc-bench-server"),
                     "--placement", "loop"],
            "crpc-worker": [os.path.join(b, "crpc", "crpc-bench-server"),
                            "--placement", "worker"],
            "crpc-metrics": [os.path.join(b, "crpc", "crpc-bench-server"),
                             "--placement", "loop",
                             "--metrics_listen", "127.0.0.1:0"],
            "grpc++": [os.path.join(b, "grpcpp", "grpcpp-bench-server")],
        }
        self.client = {
            "crpc": [os.path.join(b, "crpc", "crpc-bench-client")],
            "grpc++": [os.path.join(b, "grpcpp", "grpcpp-bench-client")],
        }
        echo = os.path.join(b, "floor", "crpc-bench-echo")
        self.server["echo"] = [echo, "--serve"]
        self.client["echo"] = [echo]


def pinned(cpu, argv, pin):
    return (["taskset", "-c", cpu] if pin else []) + argv


class Server:
    """A bench server on its CPU; reads its CPU time and memory."""

    def __init__(self, argv, pin):
        self.proc = subprocess.Popen(
            pinned(SERVER_CPU, argv + ["--port", "0"], pin),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        self.port = None
        self.metrics_port = None
        while True:
            left = deadline - time.monotonic()
            # A server that prints nothing must not hold the run up.
            if left <= 0 or not select.select([self.proc.stdout], [], [],
                                              left)[0]:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(r"listening on \S+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is not None and "--metrics_listen" in argv:
            # Printed with the line above, at once.
            m = re.match(r"metrics on port (\d+)", self.proc.stdout.readline())
            self.metrics_port = int(m.group(1)) if m else None
        if self.port is None:
            self.stop()
            raise RuntimeError("%s did not start: %s" %
                               (argv[0], self.proc.stderr.read()))

    def cpu_us(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * TICK_US

    def rss_mib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return "did not exit after SIGTERM"
        return None if rc == 0 else "exited %d" % rc


def parse_kv(line):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}


def run_load(prog, cmd, seconds, warmup):
    """Runs |prog|'s command |cmd|; the figures of its one-line report."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=seconds + warmup + 60)
    kv = parse_kv(r.stdout.strip().splitlines()[-1] if r.stdout.strip()
                  else "")
    if r.returncode != 0 or "rate" not in kv:
        raise RuntimeError("%s failed (exit %d): %s %s" %
                           (prog, r.returncode,
                            r.stdout.strip(), r.stderr.strip()[-500:]))
    return {"rate": float(kv["rate"]), "p50": float(kv["p50_us"]),
            "p99": float(kv["p99_us"]), "calls": int(kv["calls"])}


def run_client(argv, port, scenario, channels, outstanding, size, seconds,
               warmup, pin):
    cmd = pinned(CLIENT_CPU, argv + [
        "--target", "127.0.0.1:%d" % port, "--scenario", scenario,
        "--channels", str(channels), "--outstanding", str(outstanding),
        "--req_size", str(size), "--resp_size", str(size),
        "--duration_s", str(seconds), "--warmup_s", str(warmup)], pin)
    return run_load(os.path.basename(argv[0]), cmd, seconds, warmup)


def run_echo(argv, port, size, seconds, warmup, pin):
    """The floor's client: |size|-byte messages echoed, one at a time."""
    cmd = pinned(CLIENT_CPU, argv + [
        "--target", "127.0.0.1:%d" % port, "--size", str(size),
        "--duration_s", str(seconds), "--warmup_s", str(warmup)], pin)
    return run_load(os.path.basename(argv[0]), cmd, seconds, warmup)


def grpc_body(path, size):
    """A gRPC-framed SimpleRequest asking for |size| bytes back with a
    |size|-byte payload, for h2load."""
    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)
    msg = b""
    if size:
        payload = b"\x12" + varint(size) + bytes(size)
        msg = b"\x10" + varint(size) + b"\x1a" + varint(len(payload)) + payload
    with open(path, "wb") as f:
        f.write(b"\x00" + len(msg).to_bytes(4, "big") + msg)


def h2load_duration(seconds):
    """h2load's DURATION: whole milliseconds with a unit."""
    return "%dms" % round(seconds * 1000)


def run_h2load(port, body, seconds, warmup, pin):
    cmd = pinned(CLIENT_CPU, [
        "h2load", "-D", h2load_duration(seconds),
        "--warm-up-time", h2load_duration(warmup),
        "-c", "16", "-m", "32", "-t", "1",
        "-H", "content-type: application/grpc", "-H", "te: trailers",
        "-d", body,
        "http://127.0.0.1:%d/grpc.testing.BenchmarkService/UnaryCall" % port],
        pin)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=seconds + warmup + 60)
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored", r.stdout)
    t = re.search(r"finished in ([\d.]+)(m?s)", r.stdout)
    if r.returncode != 0 or not m or not t or int(m.group(4)) == 0 or \
            int(m.group(5)) or int(m.group(6)):
        raise RuntimeError("h2load failed: %s" % r.stdout[-800:])
    secs = float(t.group(1)) / (1000.0 if t.group(2) == "ms" else 1.0)
    ok = int(m.group(4))
    return {"rate": ok / secs, "p50": None, "p99": None, "calls": ok}


def metrics_page(port):
    """The page a server with --metrics_listen serves."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        return r.read().decode()


def one_run(progs, server_name, load, seconds, warmup, pin, work,
            check=None):
    """Starts |server_name|, applies |load| once; the figures. |check|, if
    given, is called with the server before it stops."""
    srv = Server(progs.server[server_name], pin)
    try:
        time.sleep(0.2)
        cpu0 = srv.cpu_us()
        kind = load[0]
        if kind == "h2load":
            body = os.path.join(work, "body-%d" % load[1])
            grpc_body(body, load[1])
            res = run_h2load(srv.port, body, seconds, warmup, pin)
        elif kind == "echo":
            res = run_echo(progs.client["echo"], srv.port, load[1], seconds,
                           warmup, pin)
        else:
            _, client, scenario, channels, outstanding, size = load
            res = run_client(progs.client[client], srv.port, scenario,
                             channels, outstanding, size, seconds, warmup,
                             pin)
        cpu = srv.cpu_us() - cpu0
        # Warmup calls cost CPU too; the rate says how many there were.
        total_calls = res["rate"] * (seconds + warmup)
        res["cpu"] = cpu / total_calls if total_calls else None
        res["rss"] = srv.rss_mib()
        if check:
            check(srv)
    finally:
        why = srv.stop()
    if why:
        raise RuntimeError("%s %s" % (server_name, why))
    return res


def open_connections(port, n):
    """|n| HTTP/2 connections that sent their preface and SETTINGS."""
    socks = []
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00" + \
        b"\x00\x00\x00\x00"
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(preface)
        socks.append(s)
    return socks


def memory_run(progs, server_name, conns, pin):
    srv = Server(progs.server[server_name], pin)
    socks = []
    try:
        time.sleep(0.5)
        idle = srv.rss_mib()
        socks = open_connections(srv.port, conns)
        time.sleep(1.0)
        loaded = srv.rss_mib()
    finally:
        for s in socks:
            s.close()
        why = srv.stop()
    if why:
        raise RuntimeError("%s %s" % (server_name, why))
    return idle, loaded


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, digits=0):
    if v is None:
        return "-"
    return ("%%.%df" % digits) % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2f" % (a / b)


# name, crpc side (server, load), gRPC C++ side (server, load)
def scenarios(quick_sizes):
    rows = [
        ("unary 1x1 0B", ("crpc", ("client", "crpc", "unary", 1, 1, 0)),
         ("grpc++", ("client", "grpc++", "unary", 1, 1, 0))),
    ]
    for size in quick_sizes:
        rows.append(("unary 4x32 %s" % size_name(size),
                     ("crpc", ("client", "crpc", "unary", 4, 32, size)),
                     ("grpc++", ("client", "grpc++", "unary", 4, 32, size))))
    rows += [
        ("ping-pong 1x1 0B", ("crpc", ("client", "crpc", "pingpong", 1, 1, 0)),
         ("grpc++", ("client", "grpc++", "pingpong", 1, 1, 0))),
        ("server streaming 1x1 0B msgs",
         ("crpc", ("client", "crpc", "server_stream", 1, 1, 0)),
         ("grpc++", ("client", "grpc++", "server_stream", 1, 1, 0))),
        ("server streaming 1x1 1KiB msgs",
         ("crpc", ("client", "crpc", "server_stream", 1, 1, 1024)),
         ("grpc++", ("client", "grpc++", "server_stream", 1, 1, 1024))),
        ("hello 4x32", ("crpc", ("client", "crpc", "hello", 4, 32, 0)),
         ("grpc++", ("client", "grpc++", "hello", 4, 32, 0))),
    ]
    for size in (0, 1024):
        rows.append(("h2load c16 m32 %s" % size_name(size),
                     ("crpc", ("h2load", size)), ("grpc++", ("h2load", size))))
    # Across implementations, and crpc's worker placement; the ratio is
    # against the same C++ baseline.
    rows += [
        ("unary 4x32 0B crpc-client->grpc++",
         ("grpc++", ("client", "crpc", "unary", 4, 32, 0)),
         ("grpc++", ("client", "grpc++", "unary", 4, 32, 0))),
        ("unary 4x32 0B grpc++-client->crpc",
         ("crpc", ("client", "grpc++", "unary", 4, 32, 0)),
         ("grpc++", ("client", "grpc++", "unary", 4, 32, 0))),
        ("unary 1x1 0B crpc-client->grpc++",
         ("grpc++", ("client", "crpc", "unary", 1, 1, 0)),
         ("grpc++", ("client", "grpc++", "unary", 1, 1, 0))),
        ("unary 4x32 0B worker placement",
         ("crpc-worker", ("client", "crpc", "unary", 4, 32, 0)),
         ("grpc++", ("client", "grpc++", "unary", 4, 32, 0))),
        ("h2load c16 m32 0B worker placement",
         ("crpc-worker", ("h2load", 0)), ("grpc++", ("h2load", 0))),
        # The cost of metrics: against "unary 1x1 0B" and "h2load c16 m32
        # 0B" above, whose crpc servers are the same without them.
        ("unary 1x1 0B metrics on",
         ("crpc-metrics", ("client", "crpc", "unary", 1, 1, 0)),
         ("grpc++", ("client", "grpc++", "unary", 1, 1, 0))),
        ("h2load c16 m32 0B metrics on",
         ("crpc-metrics", ("h2load", 0)), ("grpc++", ("h2load", 0))),
    ]
    return rows


def size_name(n):
    return "%dB" % n if n < 1024 else "%dKiB" % (n // 1024)


def smoke(progs, work):
    """Every client against every server, every scenario, once, briefly."""
    failures = 0
    for server in ("crpc", "crpc-worker", "grpc++"):
        loads = [("client", c, s, 2, 4, 64)
                 for c in ("crpc", "grpc++")
                 for s in ("unary", "pingpong", "server_stream", "hello")]
        loads.append(("h2load", 64))
        for load in loads:
            try:
                r = one_run(progs, server, load, 1, 0, False, work)
                print("ok - %s <- %s: %.0f/s" % (server, " ".join(
                    str(x) for x in load[1:]), r["rate"]))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                failures += 1
                print("not ok - %s <- %s: %s" % (server, load, e))
        try:
            idle, loaded = memory_run(progs, server, 50, False)
            print("ok - %s memory: %.1f MiB idle, %.1f MiB with 50 "
                  "connections" % (server, idle, loaded))
        except (RuntimeError, OSError) as e:
            failures += 1
            print("not ok - %s memory: %s" % (server, e))
        sys.stdout.flush()
    failures += smoke_metrics(progs, work)
    try:
        r = one_run(progs, "echo", FLOOR_LOAD, 1, 0, False, work)
        print("ok - echo <- echo %d (the floor): %.0f/s" % (FLOOR_LOAD[1],
                                                            r["rate"]))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        failures += 1
        print("not ok - echo <- echo %d (the floor): %s" % (FLOOR_LOAD[1], e))
    failures += bad_command_lines(progs)
    print("%s" % ("smoke run failed" if failures else "smoke run passed"))
    return 1 if failures else 0


def smoke_metrics(progs, work):
    """crpc's server with metrics on, under each kind of load: it serves,
    and its page counts the calls."""
    failures = 0
    want = ('grpc_server_handled_total{grpc_code="OK",grpc_method='
            '"UnaryCall",grpc_service="grpc.testing.BenchmarkService",'
            'grpc_type="unary"} ')

    def counted(srv):
        if srv.metrics_port is None:
            raise RuntimeError("the server named no metrics port")
        if want not in metrics_page(srv.metrics_port):
            raise RuntimeError("its page has no %s" % want)
    for load in (("client", "crpc", "unary", 2, 4, 64), ("h2load", 64)):
        try:
            r = one_run(progs, "crpc-metrics", load, 1, 0, False, work,
                        counted)
            print("ok - crpc-metrics <- %s: %.0f/s, counted" % (" ".join(
                str(x) for x in load[1:]), r["rate"]))
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
            failures += 1
            print("not ok - crpc-metrics <- %s: %s" % (load, e))
    sys.stdout.flush()
    return failures


# Command lines every bench program must refuse: exit 2, saying why.
BAD_LINES = [
    ("crpc-bench-echo", "floor/crpc-bench-echo",
     ["--target", "127.0.0.1:1", "--duration_s", "-1"], "--duration_s"),
    ("crpc-bench-echo", "floor/crpc-bench-echo", ["--bogus"], "--bogus"),
    ("crpc-bench-echo", "floor/crpc-bench-echo", ["--serve", "--target",
                                                  "127.0.0.1:1"], "--target"),
    ("crpc-bench-server", "crpc/crpc-bench-server",
     ["--port", "0", "--placement", "nowhere"], "--placement"),
    ("crpc-bench-server", "crpc/crpc-bench-server",
     ["--port", "0", "--loops", "0"], "--loops"),
    ("crpc-bench-client", "crpc/crpc-bench-client",
     ["--target", "127.0.0.1:1", "--scenario", "unary", "--warmup_s", "x"],
     "--warmup_s"),
    ("crpc-bench-client", "crpc/crpc-bench-client",
     ["--target", "127.0.0.1:1", "--scenario", "nothing"], "--scenario"),
]


def bad_command_lines(progs):
    """Each of BAD_LINES exits 2 with a message naming what is wrong."""
    failures = 0
    for name, path, args, names in BAD_LINES:
        r = subprocess.run([os.path.join(progs.bench, path)] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        what = "%s %s" % (name, " ".join(args))
        if r.returncode == 2 and names in r.stderr:
            print("ok - %s: refused" % what)
        else:
            failures += 1
            print("not ok - %s: exit %d, stderr %r" % (what, r.returncode,
                                                      r.stderr[-300:]))
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0,
                    help="measured seconds per run (default %(default)s)")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--only", metavar="TEXT",
                    help="only the scenarios whose name contains TEXT")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    require.programs("taskset", "h2load")
    progs = Programs(os.path.abspath(args.build))
    work = tempfile.mkdtemp(prefix="crpc-bench-")
    if args.smoke:
        return smoke(progs, work)
    pin = os.cpu_count() >= 2
    if not pin:
        print("# one CPU: server and load share it (not pinned)")
    seconds = int(args.seconds) if args.seconds >= 1 else args.seconds
    rows = []
    started = time.monotonic()
    selected = [row for row in scenarios([0, 1024, 65536])
                if not args.only or args.only in row[0]]
    floor = None
    if any(row[0].startswith(ABOVE_FLOOR) for row in selected) or \
            (args.only and args.only in "floor"):
        floor = floor_runs(progs, args.rounds, seconds, args.warmup, pin,
                           work)
        print("# %-38s %s/s, p50 %s µs (%.0f s)" %
              ("floor (bare TCP echo)", fmt(floor["rate"]),
               fmt(floor["p50"]), time.monotonic() - started))
        sys.stdout.flush()
    for name, a, b in selected:
        runs = {"a": [], "b": []}
        for _ in range(args.rounds):
            for side, (server, load) in (("a", a), ("b", b)):
                try:
                    runs[side].append(one_run(progs, server, load, seconds,
                                              args.warmup, pin, work))
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    print("# %s (%s): %s" % (name, side, e))
        med = {s: {k: median([r[k] for r in runs[s]])
                   for k in ("rate", "p50", "p99", "cpu", "rss")}
               for s in runs}
        rows.append((name, med["a"], med["b"]))
        print("# %-38s crpc %s/s, C++ %s/s (%.0f s)" %
              (name, fmt(med["a"]["rate"]), fmt(med["b"]["rate"]),
               time.monotonic() - started))
        sys.stdout.flush()
    mem = []
    if not args.only or "memory" in args.only:
        for _ in range(args.rounds):
            for server in ("crpc", "grpc++"):
                mem.append((server, memory_run(progs, server, 1000, pin)))
    print_table(rows, mem, args.rounds, seconds, floor)
    return 0


def floor_runs(progs, rounds, seconds, warmup, pin, work):
    """The bare echo pair, |rounds| times: the medians."""
    runs = []
    for _ in range(rounds):
        try:
            runs.append(one_run(progs, "echo", FLOOR_LOAD, seconds, warmup,
                                pin, work))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print("# floor: %s" % e)
    return {k: median([r[k] for r in runs])
            for k in ("rate", "p50", "p99", "cpu")}


def above(a, b, floor, digits, unit):
    """crpc's and C++'s distance above |floor|, and their ratio."""
    if a is None or b is None or floor is None:
        return "-"
    da, db = a - floor, b - floor
    return "crpc %+.*f%s, C++ %+.*f%s, ratio %s" % (
        digits, da, unit, digits, db, unit, ratio(da, db) if db > 0 else "-")


def print_floor(rows, floor):
    """The floor line, and the 1x1 rows measured from it."""
    print("floor: a bare %d-byte TCP echo (crpc-bench-echo), the same CPUs: "
          "%s/s, p50 %s µs, p99 %s µs, %s µs server CPU per round trip" %
          (FLOOR_LOAD[1], fmt(floor["rate"]), fmt(floor["p50"]),
           fmt(floor["p99"]), fmt(floor["cpu"], 1)))
    near = [r for r in rows if r[0].startswith(ABOVE_FLOOR)]
    if not near or floor["p50"] is None:
        return
    print()
    print("above the floor (a bare %d-byte TCP echo between the same CPUs: "
          "p50 %s µs, %s µs server CPU per round trip)" %
          (FLOOR_LOAD[1], fmt(floor["p50"]), fmt(floor["cpu"], 1)))
    for name, a, b in near:
        print("%-38s  %s; cpu %s" %
              (name, above(a["p50"], b["p50"], floor["p50"], 0, " µs"),
               above(a["cpu"], b["cpu"], floor["cpu"], 1, "")))


def print_table(rows, mem, rounds, seconds, floor):
    print()
    print("crpc / gRPC C++ (1.51), medians of %d interleaved runs of %s s; "
          "server on CPU %s, load on CPU %s" %
          (rounds, seconds, SERVER_CPU, CLIENT_CPU))
    head = ("scenario", "crpc/s", "C++/s", "ratio", "p50 µs", "C++", "ratio",
            "p99 µs", "C++", "ratio", "cpu µs/call", "C++", "ratio",
            "RSS MiB", "C++")
    widths = (38, 9, 9, 6, 7, 7, 6, 7, 7, 6, 11, 7, 6, 8, 7)
    line = "  ".join(h.rjust(w) if i else h.ljust(w)
                     for i, (h, w) in enumerate(zip(head, widths)))
    print(line)
    print("-" * len(line))
    for name, a, b in rows:
        cells = (name, fmt(a["rate"]), fmt(b["rate"]),
                 ratio(a["rate"], b["rate"]), fmt(a["p50"]), fmt(b["p50"]),
                 ratio(a["p50"], b["p50"]), fmt(a["p99"]), fmt(b["p99"]),
                 ratio(a["p99"], b["p99"]), fmt(a["cpu"], 1),
                 fmt(b["cpu"], 1), ratio(a["cpu"], b["cpu"]),
                 fmt(a["rss"], 1), fmt(b["rss"], 1))
        print("  ".join(c.rjust(w) if i else c.ljust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))))
    if floor:
        print_floor(rows, floor)
    if mem:
        idle = {s: median([m[1][0] for m in mem if m[0] == s])
                for s in ("crpc", "grpc++")}
        full = {s: median([m[1][1] for m in mem if m[0] == s])
                for s in ("crpc", "grpc++")}
        print()
        print("server RSS MiB        crpc      C++  ratio")
        print("idle              %8.1f %8.1f  %s" %
              (idle["crpc"], idle["grpc++"], ratio(idle["crpc"],
                                                  idle["grpc++"])))
        print("1000 connections  %8.1f %8.1f  %s" %
              (full["crpc"], full["grpc++"], ratio(full["crpc"],
                                                  full["grpc++"])))


if __name__ == "__main__":
    sys.exit(main())
