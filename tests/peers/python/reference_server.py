#!/usr/bin/python3
"""A grpcio server for crpc.servertest.WorkerTest and LoopTest.

It behaves as tests/server/README.md says crpc's test module does, with
Rep.placement "grpcio" for both services, and serves grpc.health.v1.Health
(Check and Watch; "" and every test service are SERVING). It is the known
good server the peer clients are proved against, and the server crpc's own
client is tested against.

Usage:
  reference_server.py [--listen HOST:PORT] [--tls-cert F --tls-key F
                      [--tls-client-ca F]] [--workers N]
                      [--max-message-bytes N] [--drain-seconds N]

Once listening it prints "listening on HOST:PORT (h2c)" (or "(tls)") with
the port it got; SIGTERM or SIGINT stops it gracefully (calls in flight get
--drain-seconds to finish, new ones are refused) and it exits 0.
"""
import argparse
import concurrent.futures
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import require  # noqa: E402
require.modules("grpc")
import grpc  # noqa: E402
import protos  # noqa: E402

PLACEMENT = "grpcio"
# A cancellation that arrives this close to the deadline is the deadline's:
# a client whose own timer fires first resets the stream a moment before
# the server's timer would.
DEADLINE_SLACK_S = 0.05


class Stats:
    """wait_cancel handlers per tag: how many are waiting, and how those
    that ended saw their end."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen = {}

    def _count(self, tag, kind, by):
        with self._lock:
            seen = self._seen.setdefault(
                tag, {"cancelled": 0, "deadline": 0, "waiting": 0})
            seen[kind] += by

    def begin(self, tag):
        self._count(tag, "waiting", 1)

    def record(self, tag, kind):
        self._count(tag, "waiting", -1)
        self._count(tag, kind, 1)

    def get(self, tag):
        with self._lock:
            return dict(self._seen.get(
                tag, {"cancelled": 0, "deadline": 0, "waiting": 0}))


def pause(req):
    """Sleeps, or with req.spin burns CPU, for req.sleep_ms."""
    if req.sleep_ms <= 0:
        return
    end = time.monotonic() + req.sleep_ms / 1000.0
    if not req.spin:
        time.sleep(req.sleep_ms / 1000.0)
        return
    x = 0
    while time.monotonic() < end:
        for i in range(1000):
            x += i


def echo_metadata(ctx):
    """Sends every x-echo-* request header back as a header; returns the
    matching trailers (key + "-trailer", "-bin" kept last)."""
    headers, trailers = [], []
    for key, value in ctx.invocation_metadata():
        if not key.startswith("x-echo-"):
            continue
        headers.append((key, value))
        if key.endswith("-bin"):
            trailers.append((key[:-len("-bin")] + "-trailer-bin", value))
        else:
            trailers.append((key + "-trailer", value))
    if headers:
        ctx.send_initial_metadata(headers)
    return trailers


def wants_gzip(ctx):
    return any(k == "x-want-compression" and v == "gzip"
               for k, v in ctx.invocation_metadata())


class TestService:
    """The handlers of both test services (grpcio calls them by name)."""

    def __init__(self, pb, stats):
        self.pb = pb
        self.stats = stats

    def _code(self, number):
        for code in grpc.StatusCode:
            if code.value[0] == number:
                return code
        return grpc.StatusCode.UNKNOWN

    def _fail(self, ctx, req, trailers=()):
        ctx.set_trailing_metadata(tuple(trailers) + (("x-status-trailer", "yes"),))
        ctx.abort(self._code(req.status), req.message)

    def _payload(self, req, i=0):
        if req.reply_sizes:
            n = req.reply_sizes[i % len(req.reply_sizes)]
            return bytes([i % 251]) * n
        return b"x" * req.reply_bytes if req.reply_bytes else req.payload

    def _wait_cancel(self, req, ctx):
        done = threading.Event()
        self.stats.begin(req.name)
        if ctx.add_callback(done.set):
            done.wait(120)
        remaining = ctx.time_remaining()
        kind = "deadline" if remaining is not None and remaining <= DEADLINE_SLACK_S \
            else "cancelled"
        self.stats.record(req.name, kind)

    def Unary(self, req, ctx):
        trailers = echo_metadata(ctx)
        if wants_gzip(ctx):
            ctx.set_compression(grpc.Compression.Gzip)
        if req.wait_cancel:
            self._wait_cancel(req, ctx)
            return self.pb.Rep()
        pause(req)
        if req.status:
            self._fail(ctx, req, trailers)
        ctx.set_trailing_metadata(tuple(trailers))
        return self.pb.Rep(text="hello " + req.name, payload=self._payload(req),
                           placement=PLACEMENT)

    def ServerStream(self, req, ctx):
        for i in range(req.count):
            if i:
                pause(req)
            yield self.pb.Rep(text="hello " + req.name, count=i,
                              payload=self._payload(req, i),
                              placement=PLACEMENT)
        if req.status:
            self._fail(ctx, req)

    def ClientStream(self, reqs, ctx):
        names, payload, n = [], [], 0
        for req in reqs:
            if req.status:
                self._fail(ctx, req)
            names.append(req.name)
            payload.append(req.payload)
            n += 1
        return self.pb.Rep(text=",".join(names), payload=b"".join(payload),
                           count=n, placement=PLACEMENT)

    def Bidi(self, reqs, ctx):
        for index, req in enumerate(reqs):
            pause(req)
            if req.status:
                self._fail(ctx, req)
            for _ in range(max(req.count, 1)):
                yield self.pb.Rep(text="hello " + req.name, count=index,
                                  placement=PLACEMENT)

    def Stats(self, req, ctx):
        seen = self.stats.get(req.tag)
        return self.pb.StatsRep(cancelled=seen["cancelled"],
                                deadline=seen["deadline"],
                                waiting=seen["waiting"])


def health_servicer(p, services):
    """grpc.health.v1.Health: "" and |services| are SERVING."""
    hpb = p.health_pb
    statuses = {name: hpb.HealthCheckResponse.SERVING for name in [""] + services}

    class Health(p.health_grpc.HealthServicer):
        def Check(self, req, ctx):
            if req.service not in statuses:
                ctx.abort(grpc.StatusCode.NOT_FOUND,
                          "unknown service " + req.service)
            return hpb.HealthCheckResponse(status=statuses[req.service])

        def Watch(self, req, ctx):
            yield hpb.HealthCheckResponse(status=statuses.get(
                req.service, hpb.HealthCheckResponse.SERVICE_UNKNOWN))
            # Statuses never change here: hold the stream until the client
            # goes or the server stops.
            done = threading.Event()
            if ctx.add_callback(done.set):
                done.wait()

    return Health()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT")
    ap.add_argument("--tls-cert", metavar="FILE")
    ap.add_argument("--tls-key", metavar="FILE")
    ap.add_argument("--tls-client-ca", metavar="FILE",
                    help="require client certificates signed by this CA")
    ap.add_argument("--workers", type=int, default=64,
                    help="handler threads (default: %(default)s)")
    ap.add_argument("--max-message-bytes", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--drain-seconds", type=float, default=5.0)
    protos.add_arguments(ap)
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key) or \
            (args.tls_client_ca and not args.tls_cert):
        ap.error("--tls-cert and --tls-key go together; "
                 "--tls-client-ca needs them")

    p = protos.load(args)
    stats = Stats()
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=args.workers),
        options=[("grpc.so_reuseport", 0),
                 ("grpc.max_receive_message_length", args.max_message_bytes),
                 ("grpc.max_send_message_length", args.max_message_bytes)])
    svc = TestService(p.pb, stats)
    for name in ("WorkerTest", "LoopTest"):
        getattr(p.grpc, "add_%sServicer_to_server" % name)(svc, server)
    p.health_grpc.add_HealthServicer_to_server(
        health_servicer(p, protos.service_names(p.pb)), server)

    if args.tls_cert:
        def read(path):
            with open(path, "rb") as f:
                return f.read()
        creds = grpc.ssl_server_credentials(
            [(read(args.tls_key), read(args.tls_cert))],
            root_certificates=read(args.tls_client_ca) if args.tls_client_ca else None,
            require_client_auth=bool(args.tls_client_ca))
        port = server.add_secure_port(args.listen, creds)
        kind = "tls"
    else:
        port = server.add_insecure_port(args.listen)
        kind = "h2c"
    if port == 0:
        sys.exit("reference_server: cannot listen on " + args.listen)
    host = args.listen.rsplit(":", 1)[0]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print("listening on %s:%d (%s)" % (host, port, kind), flush=True)
    while not stop.wait(0.2):
        pass
    print("stopping: draining calls for up to %gs" % args.drain_seconds,
          flush=True)
    server.stop(args.drain_seconds).wait()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
