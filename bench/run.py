#!/usr/bin/python3
"""crpc against gRPC C++, side by side in one run.

Every row runs crpc's server and gRPC C++'s async server (both serving
grpc.testing.BenchmarkService and helloworld.Greeter) under the same load
from the same client, the server pinned to one CPU and the load generator
to the other (taskset), in interleaved rounds (crpc, C++, crpc, C++, ...).
Each figure is the median of the rounds; each ratio is crpc / gRPC C++.

  rate        calls (or rounds, or streamed messages) per second
  p50, p99    latency per call or round, from the load client, in µs
  cpu/call    server CPU time (user + system, /proc/PID/stat) per call, µs
  client cpu  the load generator's CPU time (getrusage) per call, µs: what
              the server's way of answering costs its clients
  rss         the server's resident memory after the run, MiB
  range       the lowest and highest of the rounds' own rate ratios (round
              i of crpc over round i of C++): how far this machine's noise
              moves the row; a median ratio inside a wide range decides
              little

Rows: each load of LOADS (unary 1x1, the latency; unary 4x32 with 0 B,
1 KiB and 64 KiB payloads and 4x8 with 1 MiB, the throughput; ping-pong
streaming 1x1, and 4x8 with 64 KiB messages, which the server receives
as a stream; server streaming of 0 B, 1 KiB, 64 KiB and 1 MiB messages;
hello 4x32) once with crpc's client and once with gRPC C++'s, against both
servers; h2load sending gRPC unary requests (-c 16 -m 32). Then crpc's
client against gRPC C++'s on the same (C++) server, whose ratios compare
the clients; crpc's server with busy polling (--busy_poll_us, see
crpc_server_opts.busy_poll_us), with worker placement, without
gathering under load (--gather_us off, see crpc_server_opts.gather_us),
and with its metrics on (--metrics_listen: every call counted and timed
for Prometheus, as crpc-server --metrics-listen does), set against the
same C++ rows.
Last, memory: the server's RSS idle, with 10,000 idle connections open
(each sent its preface and SETTINGS; fewer if the open-files limit is
lower), per connection, three seconds after they all closed, and three
seconds after a second burst of as many closed: what stays after the
first burst and does not grow with the next is the allocator's and the
libraries' own (glibc's per-thread caches and top pad, libuv's table of
descriptors, code paged in), not memory held for connections.

The floor: the same rounds of a bare TCP echo (crpc-bench-echo, plain C,
one connection, 1-byte messages, closed loop) on the same two CPUs. Its
p50 and server CPU per round trip are what the machine itself charges for
any 1x1 round trip between those CPUs (cross-CPU wakeups, loopback TCP,
epoll): no framework can go below them. The floor line under the table
gives them, and for the unary 1x1 and ping-pong 1x1 rows "above the floor"
gives each side's distance from it and their ratio (crpc - floor) / (C++ -
floor), for p50 and for cpu/call. The floor runs whenever a 1x1 row does,
or when --only matches "floor".

The HTTP/2 floor: the row "h2load c16 m32 0B crpc vs HTTP/2 floor" runs
crpc's server and, in place of gRPC C++'s, crpc-bench-h2floor under the
same h2load load. That is a bare nghttp2 server on one libuv loop that
answers every request as crpc's server answers UnaryCall (headers, one DATA
frame with an empty SimpleResponse, trailers) and writes as crpc does (one
buffer per connection, one write per loop iteration), with no RPC work at
all: no method lookup, no calls, no messages parsed or built. So that row's
other side (in the C++ columns) is the floor, not gRPC C++, and its ratios
are crpc / floor: cpu/call's is what crpc's server spends per call over
HTTP/2 itself. crpc's aim is a server CPU per call at most 1.3x the
floor's.

The rows whose names end in "TLS" run over TLS: both servers serve h2 by
ALPN with the test certificates (tests/support/make-test-certs.sh, made
once per run in the work directory; --tls_cert and --tls_key), both
clients verify them against the test CA (--tls_ca), and h2load asks for an
https:// URL (it verifies nothing). They are h2load c16 m32 0B, and unary
4x32 with 0 B payloads from each client and 64 KiB ones from gRPC C++'s,
against both servers; set against the same rows in cleartext, they give
each side's cost of TLS.

The load generators (both clients, h2load, the echo client) run with
glibc's heap trimming fixed (LOAD_ENV); the servers keep glibc's defaults.
Left to glibc, whether a client gives its heap's top back after each large
message, and faults it in again for the next, depends on where its first
allocations happened to land: gRPC C++'s client streaming 64 KiB
messages ran at 4-6k or at 40-90k messages/s from one run to the next,
against either server, and so decided those rows by chance. Two rows
run both clients with glibc's defaults instead (their names end in
"malloc defaults"), at 64 KiB, where it matters: what users get. crpc's
channels keep received messages' memory for the next ones
(crpc_channel_opts.message_cache_bytes), so its client does not depend
on where glibc's heap top happens to be.

Usage: run.py BUILD_DIR [--rounds N] [--seconds S] [--only TEXT] [--smoke]
  --smoke: every program once for about a second, nothing pinned, no
  table: checks the programs work (ctest bench_smoke), over TLS too,
  measures nothing.
"""
import argparse
import os
import re
import resource
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
# Idle connections the memory rows open at once (fewer if the open-files
# limit is lower).
IDLE_CONNECTIONS = 10000
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
            "crpc-busy-poll": [os.path.join(b, "crpc", "crpc-bench-server"),
                               "--placement", "loop", "--busy_poll_us",
                               str(BUSY_POLL_US)],
            "crpc-no-gather": [os.path.join(b, "crpc", "crpc-bench-server"),
                               "--placement", "loop", "--gather_us", "off"],
            "grpc++": [os.path.join(b, "grpcpp", "grpcpp-bench-server")],
        }
        self.client = {
            "crpc": [os.path.join(b, "crpc", "crpc-bench-client")],
            "grpc++": [os.path.join(b, "grpcpp", "grpcpp-bench-client")],
        }
        for name in ("crpc", "grpc++"):
            self.client[name + MALLOC_DEFAULTS] = self.client[name]
        echo = os.path.join(b, "floor", "crpc-bench-echo")
        self.server["echo"] = [echo, "--serve"]
        self.client["echo"] = [echo]
        self.server["h2floor"] = [os.path.join(b, "floor",
                                               "crpc-bench-h2floor")]

    def add_tls(self, certs):
        """Servers and clients NAME-tls: NAME's over TLS, with the test
        certificates in |certs|."""
        for name in ("crpc", "grpc++"):
            self.server[name + "-tls"] = self.server[name] + [
                "--tls_cert", os.path.join(certs, "server.pem"),
                "--tls_key", os.path.join(certs, "server.key")]
            self.client[name + "-tls"] = self.client[name] + [
                "--tls_ca", os.path.join(certs, "ca.pem")]


def make_certs(work):
    """The test certificates, made in |work|: their directory."""
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "..", "tests", "support",
                                 "make-test-certs.sh"), certs], check=True)
    return certs


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


def reaped_cpu_us():
    """CPU time (user + system) of this process's reaped children, µs."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ru.ru_utime + ru.ru_stime) * 1e6


# The environment of every load generator: see the docstring.
LOAD_ENV = dict(os.environ, GLIBC_TUNABLES=(
    "glibc.malloc.trim_threshold=268435456:"
    "glibc.malloc.mmap_threshold=33554432"))
# ... except the clients named NAME-malloc-defaults, which run with glibc's
# defaults, as a user's program does.
MALLOC_DEFAULTS = "-malloc-defaults"
DEFAULT_ENV = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}


def run_measured(cmd, timeout, env=LOAD_ENV):
    """Runs the load |cmd| to its end: its exit status, its output, and the
    CPU it used in µs. (taskset execs the program it is given, so the
    process is the load's own; no other child is reaped meanwhile.)"""
    cpu0 = reaped_cpu_us()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, env=env)
    return r.returncode, r.stdout, reaped_cpu_us() - cpu0


def run_load(prog, cmd, seconds, warmup, env=LOAD_ENV):
    """Runs |prog|'s command |cmd| in |env|; the figures of its one-line
    report, and the CPU it used in µs ("client_cpu")."""
    rc, out, cpu = run_measured(cmd, seconds + warmup + 60, env)
    kv = parse_kv(out.strip().splitlines()[-1] if out.strip() else "")
    if rc != 0 or "rate" not in kv:
        raise RuntimeError("%s failed (exit %d): %s" %
                           (prog, rc, out.strip()[-800:]))
    return {"rate": float(kv["rate"]), "p50": float(kv["p50_us"]),
            "p99": float(kv["p99_us"]), "calls": int(kv["calls"]),
            "client_cpu": cpu}


def run_client(argv, port, scenario, channels, outstanding, size, seconds,
               warmup, pin, env=LOAD_ENV):
    cmd = pinned(CLIENT_CPU, argv + [
        "--target", "127.0.0.1:%d" % port, "--scenario", scenario,
        "--channels", str(channels), "--outstanding", str(outstanding),
        "--req_size", str(size), "--resp_size", str(size),
        "--duration_s", str(seconds), "--warmup_s", str(warmup)], pin)
    return run_load(os.path.basename(argv[0]), cmd, seconds, warmup, env)


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


def run_h2load(port, body, seconds, warmup, pin, tls=False):
    """h2load's gRPC unary calls; with |tls|, to an https:// URL (h2 by
    ALPN)."""
    cmd = pinned(CLIENT_CPU, [
        "h2load", "-D", h2load_duration(seconds),
        "--warm-up-time", h2load_duration(warmup),
        "-c", "16", "-m", "32", "-t", "1",
        "-H", "content-type: application/grpc", "-H", "te: trailers",
        "-d", body,
        "%s://127.0.0.1:%d/grpc.testing.BenchmarkService/UnaryCall" %
        ("https" if tls else "http", port)],
        pin)
    rc, out, cpu = run_measured(cmd, seconds + warmup + 60)
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    t = re.search(r"finished in ([\d.]+)(m?s)", out)
    if rc != 0 or not m or not t or int(m.group(4)) == 0 or \
            int(m.group(5)) or int(m.group(6)):
        raise RuntimeError("h2load failed: %s" % out[-800:])
    secs = float(t.group(1)) / (1000.0 if t.group(2) == "ms" else 1.0)
    ok = int(m.group(4))
    return {"rate": ok / secs, "p50": None, "p99": None, "calls": ok,
            "client_cpu": cpu}


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
        if kind in ("h2load", "h2load-tls"):
            body = os.path.join(work, "body-%d" % load[1])
            grpc_body(body, load[1])
            res = run_h2load(srv.port, body, seconds, warmup, pin,
                             kind == "h2load-tls")
        elif kind == "echo":
            res = run_echo(progs.client["echo"], srv.port, load[1], seconds,
                           warmup, pin)
        else:
            _, client, scenario, channels, outstanding, size = load
            res = run_client(progs.client[client], srv.port, scenario,
                             channels, outstanding, size, seconds, warmup,
                             pin, DEFAULT_ENV if client.endswith(
                                 MALLOC_DEFAULTS) else LOAD_ENV)
        cpu = srv.cpu_us() - cpu0
        # Warmup calls cost CPU too; the rate says how many there were.
        total_calls = res["rate"] * (seconds + warmup)
        res["cpu"] = cpu / total_calls if total_calls else None
        res["ccpu"] = res["client_cpu"] / total_calls if total_calls else None
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
    """The server's RSS in MiB idle, with |conns| idle connections open,
    three seconds after they closed, and three seconds after a second
    burst of |conns| closed."""
    srv = Server(progs.server[server_name], pin)
    socks = []
    try:
        time.sleep(0.5)
        idle = srv.rss_mib()
        rss = []  # with each burst open, then after it closed
        for _ in range(2):
            socks = open_connections(srv.port, conns)
            time.sleep(1.0)
            rss.append(srv.rss_mib())
            for s in socks:
                s.close()
            socks = []
            # Servers give memory back on their own schedule (crpc: its
            # sweep, at least every second, trims the heap at most once a
            # second).
            time.sleep(3.0)
            rss.append(srv.rss_mib())
    finally:
        for s in socks:
            s.close()
        why = srv.stop()
    if why:
        raise RuntimeError("%s %s" % (server_name, why))
    loaded, after, _, again = rss
    return idle, loaded, after, again


def idle_connections_possible(wanted):
    """How many idle connections the memory row can open: |wanted|, or
    fewer when the open-files limit is lower (each costs a descriptor here
    and one in the server, which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + 256
    if soft < need and (hard == resource.RLIM_INFINITY or hard >= need):
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        soft = need
    return max(0, min(wanted, soft - 256))


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


def round_ratios(a_runs, b_runs):
    """The lowest and highest rate ratio of paired rounds, or None (also
    when a round failed on one side, which leaves nothing to pair)."""
    if len(a_runs) != len(b_runs):
        return None
    rs = [a["rate"] / b["rate"] for a, b in zip(a_runs, b_runs)
          if a["rate"] is not None and b["rate"]]
    return (min(rs), max(rs)) if rs else None


def fmt_range(r):
    return "%.2f-%.2f" % r if r else "-"


# The loads every client applies to both servers: name, scenario,
# channels, calls in flight per channel, payload bytes each way.
LOADS = [
    ("unary 1x1 0B", "unary", 1, 1, 0),
    ("unary 4x32 0B", "unary", 4, 32, 0),
    ("unary 4x32 1KiB", "unary", 4, 32, 1024),
    ("unary 4x32 64KiB", "unary", 4, 32, 65536),
    ("unary 4x8 1MiB", "unary", 4, 8, 1 << 20),
    ("ping-pong 1x1 0B", "pingpong", 1, 1, 0),
    ("ping-pong 4x8 64KiB", "pingpong", 4, 8, 65536),
    ("server streaming 1x1 0B msgs", "server_stream", 1, 1, 0),
    ("server streaming 1x1 1KiB msgs", "server_stream", 1, 1, 1024),
    ("server streaming 1x1 64KiB msgs", "server_stream", 1, 1, 65536),
    ("server streaming 1x1 1MiB msgs", "server_stream", 1, 1, 1 << 20),
    ("hello 4x32", "hello", 4, 32, 0),
]
# crpc's server with busy polling (crpc_server_opts.busy_poll_us).
BUSY_POLL_US = 50


# name, crpc side (server, load), other side (server, load): crpc's server
# against gRPC C++'s under the same client, unless the name says otherwise.
def scenarios():
    rows = []
    for client in ("crpc", "grpc++"):
        for name, scenario, channels, outstanding, size in LOADS:
            load = ("client", client, scenario, channels, outstanding, size)
            rows.append(("%s, %s client" % (name, client),
                         ("crpc", load), ("grpc++", load)))
    for size in (0, 1024):
        rows.append(("h2load c16 m32 %s" % size_name(size),
                     ("crpc", ("h2load", size)), ("grpc++", ("h2load", size))))
    # The clients against each other, on the same (gRPC C++) server: the
    # ratios are crpc's client / gRPC C++'s, the client CPU column the
    # one that counts.
    # The last two with glibc's malloc defaults in both clients, as users
    # run them: what the table's other rows leave to chance (see the
    # docstring).
    for name, scenario, channels, outstanding, size, env in (
            ("unary 4x32 0B", "unary", 4, 32, 0, ""),
            ("server streaming 1x1 0B msgs", "server_stream", 1, 1, 0, ""),
            ("unary 4x32 64KiB", "unary", 4, 32, 65536, MALLOC_DEFAULTS),
            ("server streaming 1x1 64KiB msgs", "server_stream", 1, 1, 65536,
             MALLOC_DEFAULTS)):
        rows.append((
            "%s, crpc client vs grpc++ client%s" % (
                name, ", malloc defaults" if env else ""),
            ("grpc++", ("client", "crpc" + env, scenario, channels,
                        outstanding, size)),
            ("grpc++", ("client", "grpc++" + env, scenario, channels,
                        outstanding, size))))
    # crpc's server in other settings, against the same C++ baselines.
    grpcpp_load = ("client", "grpc++", "unary", 4, 32, 0)
    rows += [
        ("unary 1x1 0B, grpc++ client, busy poll",
         ("crpc-busy-poll", ("client", "grpc++", "unary", 1, 1, 0)),
         ("grpc++", ("client", "grpc++", "unary", 1, 1, 0))),
        ("unary 4x32 0B, grpc++ client, busy poll",
         ("crpc-busy-poll", grpcpp_load), ("grpc++", grpcpp_load)),
        ("ping-pong 1x1 0B, grpc++ client, busy poll",
         ("crpc-busy-poll", ("client", "grpc++", "pingpong", 1, 1, 0)),
         ("grpc++", ("client", "grpc++", "pingpong", 1, 1, 0))),
        ("unary 4x32 0B, grpc++ client, worker placement",
         ("crpc-worker", grpcpp_load), ("grpc++", grpcpp_load)),
        ("unary 4x32 0B, grpc++ client, gathering off",
         ("crpc-no-gather", grpcpp_load), ("grpc++", grpcpp_load)),
        ("h2load c16 m32 0B worker placement",
         ("crpc-worker", ("h2load", 0)), ("grpc++", ("h2load", 0))),
        # The cost of metrics: against "unary 1x1 0B, crpc client" and
        # "h2load c16 m32 0B" above, whose crpc servers are the same
        # without them.
        ("unary 1x1 0B, crpc client, metrics on",
         ("crpc-metrics", ("client", "crpc", "unary", 1, 1, 0)),
         ("grpc++", ("client", "crpc", "unary", 1, 1, 0))),
        ("h2load c16 m32 0B metrics on",
         ("crpc-metrics", ("h2load", 0)), ("grpc++", ("h2load", 0))),
    ]
    # The HTTP/2 floor: the other side is crpc-bench-h2floor, not gRPC C++,
    # and the ratio is crpc / floor.
    rows.append(("h2load c16 m32 0B crpc vs HTTP/2 floor",
                 ("crpc", ("h2load", 0)), ("h2floor", ("h2load", 0))))
    # Over TLS: against the same rows in cleartext, the cost of TLS.
    rows.append(("h2load c16 m32 0B TLS", ("crpc-tls", ("h2load-tls", 0)),
                 ("grpc++-tls", ("h2load-tls", 0))))
    for client, size in (("grpc++", 0), ("crpc", 0), ("grpc++", 65536)):
        load = ("client", client + "-tls", "unary", 4, 32, size)
        rows.append(("unary 4x32 %s, %s client, TLS" % (size_name(size),
                                                         client),
                     ("crpc-tls", load), ("grpc++-tls", load)))
    return rows


def size_name(n):
    return "%dB" % n if n < 1024 else "%dKiB" % (n // 1024)


def smoke(progs, work):
    """Every client against every server, every scenario, once, briefly."""
    failures = 0
    for server in ("crpc", "crpc-worker", "crpc-busy-poll", "crpc-no-gather",
                   "grpc++"):
        loads = [("client", c, s, 2, 4, 64)
                 for c in ("crpc", "grpc++")
                 for s in ("unary", "pingpong", "server_stream", "hello")]
        # The largest messages the table sends, each way, and streamed
        # to the server.
        loads += [("client", c, s, 1, 2, 1 << 20)
                  for c in ("crpc", "grpc++")
                  for s in ("unary", "server_stream", "pingpong")]
        # Clients with glibc's malloc defaults.
        loads += [("client", c + MALLOC_DEFAULTS, "server_stream", 1, 1,
                   65536) for c in ("crpc", "grpc++")]
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
            idle, loaded, after, _ = memory_run(progs, server, 50, False)
            print("ok - %s memory: %.1f MiB idle, %.1f MiB with 50 "
                  "connections, %.1f MiB after" % (server, idle, loaded,
                                                   after))
        except (RuntimeError, OSError) as e:
            failures += 1
            print("not ok - %s memory: %s" % (server, e))
        sys.stdout.flush()
    failures += smoke_metrics(progs, work)
    failures += smoke_tls(progs, work)
    try:
        r = one_run(progs, "echo", FLOOR_LOAD, 1, 0, False, work)
        print("ok - echo <- echo %d (the floor): %.0f/s" % (FLOOR_LOAD[1],
                                                            r["rate"]))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        failures += 1
        print("not ok - echo <- echo %d (the floor): %s" % (FLOOR_LOAD[1], e))
    failures += smoke_h2floor(progs, work)
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


def smoke_h2floor(progs, work):
    """The HTTP/2 floor's server under h2load, once."""
    load = ("h2load", 0)
    try:
        r = one_run(progs, "h2floor", load, 1, 0, False, work)
        print("ok - h2floor <- h2load %d (the HTTP/2 floor): %.0f/s" %
              (load[1], r["rate"]))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("not ok - h2floor <- h2load %d (the HTTP/2 floor): %s" %
              (load[1], e))
        return 1
    sys.stdout.flush()
    return 0


def smoke_tls(progs, work):
    """Every client against every server over TLS, and h2load over TLS
    against each server, once."""
    failures = 0
    for server in ("crpc-tls", "grpc++-tls"):
        loads = [("client", c, "unary", 2, 4, 64)
                 for c in ("crpc-tls", "grpc++-tls")]
        loads.append(("h2load-tls", 64))
        for load in loads:
            what = " ".join(str(x) for x in
                            (load[1:] if load[0] == "client" else load))
            try:
                r = one_run(progs, server, load, 1, 0, False, work)
                print("ok - %s <- %s: %.0f/s" % (server, what, r["rate"]))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                failures += 1
                print("not ok - %s <- %s: %s" % (server, what, e))
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
    ("crpc-bench-server", "crpc/crpc-bench-server",
     ["--port", "0", "--busy_poll_us", "2000000"], "--busy_poll_us"),
    ("crpc-bench-client", "crpc/crpc-bench-client",
     ["--target", "127.0.0.1:1", "--scenario", "unary", "--warmup_s", "x"],
     "--warmup_s"),
    ("crpc-bench-client", "crpc/crpc-bench-client",
     ["--target", "127.0.0.1:1", "--scenario", "nothing"], "--scenario"),
    ("crpc-bench-h2floor", "floor/crpc-bench-h2floor",
     ["--port", "0", "--bogus"], "--bogus"),
    ("crpc-bench-h2floor", "floor/crpc-bench-h2floor",
     ["--port", "0", "--resp_size", "5000000"], "--resp_size"),
    ("crpc-bench-server", "crpc/crpc-bench-server",
     ["--port", "0", "--tls_cert", "server.pem"], "--tls_key"),
    ("crpc-bench-client", "crpc/crpc-bench-client",
     ["--target", "127.0.0.1:1", "--scenario", "unary", "--tls_ca",
      "/nonexistent/ca.pem"], "--tls_ca"),
    ("grpcpp-bench-server", "grpcpp/grpcpp-bench-server",
     ["--port", "0", "--tls_key", "server.key"], "--tls_cert"),
    ("grpcpp-bench-client", "grpcpp/grpcpp-bench-client",
     ["--target", "127.0.0.1:1", "--scenario", "unary", "--tls_ca",
      "/nonexistent/ca.pem"], "--tls_ca"),
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
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="measured seconds per run (default %(default)s)")
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--only", metavar="TEXT",
                    help="only the scenarios whose name contains TEXT")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    require.programs("taskset", "h2load")
    progs = Programs(os.path.abspath(args.build))
    work = tempfile.mkdtemp(prefix="crpc-bench-")
    progs.add_tls(make_certs(work))
    if args.smoke:
        return smoke(progs, work)
    pin = os.cpu_count() >= 2
    if not pin:
        print("# one CPU: server and load share it (not pinned)")
    seconds = int(args.seconds) if args.seconds >= 1 else args.seconds
    rows = []
    started = time.monotonic()
    selected = [row for row in scenarios()
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
                   for k in ("rate", "p50", "p99", "cpu", "ccpu", "rss")}
               for s in runs}
        med["a"]["range"] = round_ratios(runs["a"], runs["b"])
        rows.append((name, med["a"], med["b"]))
        print("# %-48s %s %s/s, %s %s/s (%.0f s)" %
              (name, a[0], fmt(med["a"]["rate"]), b[0],
               fmt(med["b"]["rate"]), time.monotonic() - started))
        sys.stdout.flush()
    mem = []
    conns = idle_connections_possible(IDLE_CONNECTIONS)
    if (not args.only or "memory" in args.only) and conns:
        for _ in range(args.rounds):
            for server in ("crpc", "grpc++"):
                mem.append((server, memory_run(progs, server, conns, pin)))
    print_table(rows, mem, conns, args.rounds, seconds, floor)
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


def print_table(rows, mem, conns, rounds, seconds, floor):
    print()
    print("crpc / gRPC C++ (1.51), medians of %d interleaved runs of %s s; "
          "server on CPU %s, load on CPU %s" %
          (rounds, seconds, SERVER_CPU, CLIENT_CPU))
    head = ("scenario", "crpc/s", "C++/s", "ratio", "range", "p50 µs", "C++",
            "ratio", "p99 µs", "C++", "ratio", "cpu µs/call", "C++", "ratio",
            "client cpu", "C++", "ratio", "RSS MiB", "C++")
    widths = (48, 9, 9, 6, 9, 7, 7, 6, 7, 7, 6, 11, 7, 6, 10, 7, 6, 8, 7)
    line = "  ".join(h.rjust(w) if i else h.ljust(w)
                     for i, (h, w) in enumerate(zip(head, widths)))
    print(line)
    print("-" * len(line))
    for name, a, b in rows:
        cells = (name, fmt(a["rate"]), fmt(b["rate"]),
                 ratio(a["rate"], b["rate"]), fmt_range(a.get("range")),
                 fmt(a["p50"]), fmt(b["p50"]),
                 ratio(a["p50"], b["p50"]), fmt(a["p99"]), fmt(b["p99"]),
                 ratio(a["p99"], b["p99"]), fmt(a["cpu"], 1),
                 fmt(b["cpu"], 1), ratio(a["cpu"], b["cpu"]),
                 fmt(a["ccpu"], 1), fmt(b["ccpu"], 1),
                 ratio(a["ccpu"], b["ccpu"]), fmt(a["rss"], 1),
                 fmt(b["rss"], 1))
        print("  ".join(c.rjust(w) if i else c.ljust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))))
    if floor:
        print_floor(rows, floor)
    if mem:
        print_memory(mem, conns)


def print_memory(mem, conns):
    """The memory rows: RSS idle, with |conns| idle connections, per
    connection, after they closed and after a second burst closed
    (medians)."""
    def med(i, s):
        return median([m[1][i] for m in mem if m[0] == s])
    idle, full, after, again = ({s: med(i, s) for s in ("crpc", "grpc++")}
                                for i in range(4))
    each = {s: (full[s] - idle[s]) * 1024 / conns for s in idle}
    print()
    print("server RSS                          crpc       C++  ratio")
    for name, v in (("idle, MiB", idle),
                    ("%d idle connections, MiB" % conns, full),
                    ("per idle connection, KiB", each),
                    ("after they closed, MiB", after),
                    ("after a second burst, MiB", again)):
        print("%-32s %8.1f  %8.1f  %s" % (name, v["crpc"], v["grpc++"],
                                         ratio(v["crpc"], v["grpc++"])))
    print("after they closed / idle          %7.2f   %7.2f" %
          (after["crpc"] / idle["crpc"], after["grpc++"] / idle["grpc++"]))
    print("after a second burst / the first  %7.2f   %7.2f" %
          (again["crpc"] / after["crpc"], again["grpc++"] / after["grpc++"]))


if __name__ == "__main__":
    sys.exit(main())
