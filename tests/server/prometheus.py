#!/usr/bin/python3
"""crpc-server's metrics as a real Prometheus scrapes them.

Starts crpc-server with the test module and --metrics-listen 127.0.0.1:0,
and Debian's prometheus with a configuration of its own (a temporary
storage directory, its web API on a free loopback port) that scrapes
http://127.0.0.1:PORT/metrics every second. Makes a small load with a
grpcio client: unary calls that succeed and calls that fail NOT_FOUND, a
call of a method the server does not have, a server stream, a client
stream and a bidirectional stream. Then reads the values back through
Prometheus's query API (/api/v1/query) and checks them exactly:
- the target is up and its page parses;
- grpc_server_started_total and grpc_server_handled_total by grpc_code
  (Go's code names), with grpc_type, grpc_service and grpc_method labels;
- grpc_server_msg_sent_total / msg_received_total of the streams;
- grpc_server_handling_seconds_count and its +Inf bucket;
- crpc_server_rejected_calls_total{reason="unimplemented"};
- crpc_server_connections: 1 while the client's channel is open, 0 once
  it has closed.
Each value is polled from the API until it is what is expected or a
deadline passes, never after a fixed sleep. SIGTERM then stops both
processes; crpc-server must exit 0.

Usage: prometheus.py BUILD_DIR SOURCE_DIR [--only NAME[,NAME...]]
Prints "ok - NAME" or "not ok - NAME: reason" per check and then
"N passed, M failed"; exits 1 if a check failed. Bounded in time; leaves
nothing running.
"""
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc")
require.programs("prometheus")
import grpc  # noqa: E402
import checks  # noqa: E402
import procs  # noqa: E402

START_TIMEOUT_S = 30
# Under a sanitizer crpc-server is several times slower; Prometheus
# scrapes every second.
VALUE_TIMEOUT_S = 60

UNARY_OK = 5
UNARY_NOT_FOUND = 3
STREAM_REPLIES = 4
CLIENT_STREAM_MESSAGES = 3
BIDI_MESSAGES = 2


def free_port():
    """A loopback port nothing listens on now (Prometheus takes it next)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


class Prometheus:
    """A prometheus process scraping |target| every second, its
    configuration and storage in |data| (a directory of its own), its log
    in |logs|."""

    def __init__(self, data, logs, target):
        self.port = free_port()
        cfg = os.path.join(data, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: 1s\n"
                    "  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: crpc\n"
                    "    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        cmd = [require.program_path("prometheus"),
               "--config.file=" + cfg,
               "--storage.tsdb.path=" + os.path.join(data, "tsdb"),
               "--web.listen-address=127.0.0.1:%d" % self.port,
               "--log.level=warn"]
        self.proc = procs.LoggedProcess(cmd,
                                        os.path.join(logs, "prometheus.log"))
        self.base = "http://127.0.0.1:%d" % self.port

    def wait_ready(self):
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            if self.proc.proc.poll() is not None:
                raise RuntimeError("prometheus exited with status %d:\n%s" %
                                   (self.proc.proc.returncode,
                                    self.proc.read_log()[-2000:]))
            try:
                if http_get(self.base + "/-/ready", 1)[0] == 200:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus not ready within %d s:\n%s" %
                           (START_TIMEOUT_S, self.proc.read_log()[-2000:]))

    def query(self, expr):
        """The value of the one series |expr| selects, None when it
        selects none; raises when it selects several."""
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode(
            {"query": expr})
        _, body = http_get(url)
        doc = json.loads(body)
        if doc.get("status") != "success":
            raise RuntimeError("query %s: %s" % (expr, body[:300]))
        result = doc["data"]["result"]
        if not result:
            return None
        if len(result) > 1:
            raise RuntimeError("query %s selects %d series" %
                               (expr, len(result)))
        return float(result[0]["value"][1])

    def wait_value(self, expr, want, timeout_s=VALUE_TIMEOUT_S):
        """Polls |expr| until it is |want|; returns how long it took.
        Raises with the last value seen when the deadline passes."""
        t0 = time.monotonic()
        last = None
        while True:
            last = self.query(expr)
            if last == want:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout_s:
                raise AssertionError("%s is %s after %d s, want %s" %
                                     (expr, last, timeout_s, want))
            time.sleep(0.2)

    def stop(self):
        if self.proc.proc.poll() is None:
            self.proc.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.proc.wait(30)
            except Exception:  # noqa: BLE001 - killed below
                pass
        self.proc.kill()


def selector(family, service, method, kind, **extra):
    labels = {"job": "crpc", "grpc_service": "crpc.servertest." + service,
              "grpc_method": method, "grpc_type": kind}
    labels.update(extra)
    return "%s{%s}" % (family, ",".join('%s="%s"' % kv
                                         for kv in sorted(labels.items())))


def make_load(p, channel):
    """The calls whose counts the checks expect."""
    worker = p.grpc.WorkerTestStub(channel)
    loop = p.grpc.LoopTestStub(channel)
    for i in range(UNARY_OK):
        rep = worker.Unary(p.pb.Req(name="ok%d" % i), timeout=10)
        if rep.text != "hello ok%d" % i:
            raise AssertionError("unary reply %r" % rep.text)
    for i in range(UNARY_NOT_FOUND):
        try:
            worker.Unary(p.pb.Req(name="nf", status=5, message="no such"),
                         timeout=10)
            raise AssertionError("a call asking NOT_FOUND succeeded")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                raise AssertionError("got %s: %s" % (e.code(), e.details()))
    missing = channel.unary_unary("/crpc.servertest.WorkerTest/Missing",
                                  request_serializer=lambda b: b,
                                  response_deserializer=lambda b: b)
    try:
        missing(b"", timeout=10)
        raise AssertionError("a call of a missing method succeeded")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise AssertionError("missing method: got %s" % e.code())
    replies = list(loop.ServerStream(p.pb.Req(name="s", count=STREAM_REPLIES),
                                     timeout=10))
    if len(replies) != STREAM_REPLIES:
        raise AssertionError("%d stream replies" % len(replies))
    rep = worker.ClientStream(iter([p.pb.Req(name="c%d" % i)
                                    for i in range(CLIENT_STREAM_MESSAGES)]),
                              timeout=10)
    if rep.count != CLIENT_STREAM_MESSAGES:
        raise AssertionError("client stream count %d" % rep.count)
    replies = list(loop.Bidi(iter([p.pb.Req(name="b%d" % i, count=1)
                                   for i in range(BIDI_MESSAGES)]),
                             timeout=10))
    if len(replies) != BIDI_MESSAGES:
        raise AssertionError("%d bidi replies" % len(replies))
    return "%d calls" % (UNARY_OK + UNARY_NOT_FOUND + 4)


class Scenario:
    """One crpc-server, one Prometheus scraping it and one grpcio channel,
    shared by the checks in turn; close() stops what is left."""

    def __init__(self, args, p):
        self.args, self.p = args, p
        self.server = self.prom = self.channel = None
        self.metrics_target = None
        self.data = tempfile.mkdtemp(prefix="crpc-prometheus-data-")

    def start(self, tmp):
        module = os.path.join(self.args.build,
                              "tests/server/crpc_server_test_module.so")
        self.server = checks.Server(
            self.args, tmp, "server", [module],
            ["--metrics-listen", "127.0.0.1:0", "--loops", "2",
             "--workers", "2", "--drain-seconds", "5"])
        found = self.server.wait_log(
            r"metrics on http://(127\.0\.0\.1:\d+)/metrics$", 1)
        if not found:
            raise AssertionError("crpc-server logged no metrics URL")
        self.metrics_target = found[0].group(1)
        self.prom = Prometheus(self.data, tmp, self.metrics_target)
        self.prom.wait_ready()
        took = self.prom.wait_value('up{job="crpc"}', 1.0)
        samples = self.prom.query('scrape_samples_scraped{job="crpc"}')
        return "%s up in %.1f s, %d samples" % (self.metrics_target, took,
                                                samples)

    def load(self, tmp):
        self.channel = grpc.insecure_channel(
            self.server.target,
            options=[("grpc.use_local_subchannel_pool", 1),
                     ("grpc.enable_retries", 0)])
        return make_load(self.p, self.channel)

    def value(self, expr, want):
        def check(tmp):
            return "%s in %.1f s" % (want, self.prom.wait_value(expr, want))
        return (expr, check)

    def close_channel(self, tmp):
        self.channel.close()
        self.channel = None
        took = self.prom.wait_value('crpc_server_connections{job="crpc"}',
                                    0.0)
        return "0 in %.1f s" % took

    def stop(self, tmp):
        rc = self.server.stop()
        if rc != 0:
            raise AssertionError("crpc-server exited %s" % rc)
        return "exit 0"

    def close(self):
        if self.channel is not None:
            self.channel.close()
        if self.prom is not None:
            self.prom.stop()
        if self.server is not None:
            self.server.stop()
            self.server.proc.kill()
        shutil.rmtree(self.data, ignore_errors=True)


def main():
    args = checks.parse_args(__doc__)
    p = checks.load_protos(args.source)
    s = Scenario(args, p)
    calls = float(UNARY_OK + UNARY_NOT_FOUND)
    try:
        return checks.run([
            ("scrape", s.start),
            ("load", s.load),
            s.value(selector("grpc_server_handled_total", "WorkerTest",
                             "Unary", "unary", grpc_code="OK"),
                    float(UNARY_OK)),
            s.value(selector("grpc_server_handled_total", "WorkerTest",
                             "Unary", "unary", grpc_code="NotFound"),
                    float(UNARY_NOT_FOUND)),
            s.value(selector("grpc_server_started_total", "WorkerTest",
                             "Unary", "unary"), calls),
            s.value(selector("grpc_server_handling_seconds_count",
                             "WorkerTest", "Unary", "unary"), calls),
            s.value(selector("grpc_server_handling_seconds_bucket",
                             "WorkerTest", "Unary", "unary", le="+Inf"),
                    calls),
            s.value(selector("grpc_server_msg_received_total", "WorkerTest",
                             "Unary", "unary"), calls),
            s.value(selector("grpc_server_msg_sent_total", "LoopTest",
                             "ServerStream", "server_stream"),
                    float(STREAM_REPLIES)),
            s.value(selector("grpc_server_handled_total", "LoopTest",
                             "ServerStream", "server_stream",
                             grpc_code="OK"), 1.0),
            s.value(selector("grpc_server_msg_received_total", "WorkerTest",
                             "ClientStream", "client_stream"),
                    float(CLIENT_STREAM_MESSAGES)),
            s.value(selector("grpc_server_msg_sent_total", "LoopTest", "Bidi",
                             "bidi_stream"), float(BIDI_MESSAGES)),
            s.value(selector("grpc_server_msg_received_total", "LoopTest",
                             "Bidi", "bidi_stream"), float(BIDI_MESSAGES)),
            s.value('crpc_server_rejected_calls_total{job="crpc",'
                    'reason="unimplemented"}', 1.0),
            s.value('sum(grpc_server_handled_total{job="crpc"})', calls + 3),
            s.value('crpc_server_connections{job="crpc"}', 1.0),
            ("connections after the channel closed", s.close_channel),
            ("sigterm", s.stop),
        ], args.only, "crpc-prometheus-", show_logs="failed")
    finally:
        s.close()


if __name__ == "__main__":
    sys.exit(main())
