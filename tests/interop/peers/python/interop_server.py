#!/usr/bin/python3
"""A grpcio server of grpc.testing.TestService, gRPC's interop test server.

Every method behaves as gRPC's interop-test-descriptions.md (and
tests/interop's contract) says: it echoes x-grpc-test-echo-initial as a
response header and x-grpc-test-echo-trailing-bin as a trailer, ends with
response_status when its code is nonzero, and answers with payloads of
zeros of the sizes asked for, waiting interval_us before each streamed one
and compressing (gzip) exactly those asked to be compressed. server_id is
"grpcio-<pid>". UnimplementedCall ends with UNIMPLEMENTED, as does every
method of grpc.testing.UnimplementedService, which is not served.

One deviation: grpcio does not tell a handler whether a request message
arrived compressed, so expect_compressed is not checked and such requests
are answered as if it held. A client's client_compressed_unary probe (a
plain request with expect_compressed=true, which must fail) therefore
cannot pass against this server; client_compressed_unary_noprobe can.

Usage:
  interop_server.py --stubs DIR [--port N] [--host H]
                    [--use_tls [true|false] --tls_cert F --tls_key F]
                    [--max_lifetime_s S]

Once listening it prints "listening on HOST:PORT (h2c)" (or "(tls)") with
the port it got. SIGTERM or SIGINT cancels the calls in flight and exits 0;
after --max_lifetime_s it stops the same way but exits 1, so that a
forgotten server does not outlive its test run for long.
"""
import concurrent.futures
import os
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc")
import grpc  # noqa: E402
import stubs  # noqa: E402

SERVER_ID = "grpcio-%d" % os.getpid()
ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
CODES = {c.value[0]: c for c in grpc.StatusCode}


def echo_metadata(ctx):
    """Sends the echoed header (if the client sent one) and sets the echoed
    trailer, which grpcio also sends when the call ends with an error."""
    md = ctx.invocation_metadata()
    initial = [(k, v) for k, v in md if k == ECHO_INITIAL]
    trailing = [(k, v) for k, v in md if k == ECHO_TRAILING]
    if initial:
        ctx.send_initial_metadata(initial)
    if trailing:
        ctx.set_trailing_metadata(trailing)


def end_with_status(ctx, status):
    """Ends the call with |status| (an EchoStatus) if its code is nonzero;
    codes grpcio has no name for become UNKNOWN."""
    if status.code != 0:
        ctx.abort(CODES.get(status.code, grpc.StatusCode.UNKNOWN),
                  status.message)


class TestService:
    """The handlers (grpcio calls them by method name)."""

    def __init__(self, p):
        self.m = p.messages
        self.p = p

    def payload(self, size):
        return self.m.Payload(type=self.m.COMPRESSABLE, body=bytes(size))

    def send(self, ctx, params):
        """Yields one StreamingOutputCallResponse per ResponseParameters,
        each after its interval and compressed iff it asks to be. The call
        is set to gzip beforehand (see stream_start)."""
        for rp in params:
            if rp.interval_us > 0:
                time.sleep(rp.interval_us / 1e6)
            if not rp.compressed.value:
                ctx.disable_next_message_compression()
            yield self.m.StreamingOutputCallResponse(
                payload=self.payload(rp.size))

    def stream_start(self, ctx):
        """grpcio chooses compression per call, before the headers go out;
        a streaming call may need it for any message, so gzip is chosen for
        the call and every message that must go plain opts out."""
        ctx.set_compression(grpc.Compression.Gzip)
        echo_metadata(ctx)

    def EmptyCall(self, req, ctx):
        echo_metadata(ctx)
        return self.p.empty.Empty()

    def UnaryCall(self, req, ctx):
        if req.response_compressed.value:
            ctx.set_compression(grpc.Compression.Gzip)
        echo_metadata(ctx)
        end_with_status(ctx, req.response_status)
        rep = self.m.SimpleResponse(payload=self.payload(req.response_size))
        if req.fill_server_id:
            rep.server_id = SERVER_ID
        # Older messages.proto files have no fill_hostname.
        if getattr(req, "fill_hostname", False):
            rep.hostname = socket.gethostname()
        return rep

    def CacheableUnaryCall(self, req, ctx):
        return self.UnaryCall(req, ctx)

    def StreamingOutputCall(self, req, ctx):
        self.stream_start(ctx)
        yield from self.send(ctx, req.response_parameters)
        end_with_status(ctx, req.response_status)

    def StreamingInputCall(self, reqs, ctx):
        echo_metadata(ctx)
        total = sum(len(r.payload.body) for r in reqs)
        return self.m.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, reqs, ctx):
        self.stream_start(ctx)
        for req in reqs:
            end_with_status(ctx, req.response_status)
            yield from self.send(ctx, req.response_parameters)

    def HalfDuplexCall(self, reqs, ctx):
        self.stream_start(ctx)
        for req in list(reqs):
            end_with_status(ctx, req.response_status)
            yield from self.send(ctx, req.response_parameters)

    def UnimplementedCall(self, req, ctx):
        echo_metadata(ctx)
        ctx.abort(grpc.StatusCode.UNIMPLEMENTED,
                  "UnimplementedCall is not implemented")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    ap = stubs.new_parser(__doc__)
    ap.add_argument("--port", type=int, default=0,
                    help="0: any free port (default)")
    ap.add_argument("--host", default="127.0.0.1")
    stubs.add_bool(ap, "--use_tls", "serve TLS")
    ap.add_argument("--tls_cert", metavar="FILE")
    ap.add_argument("--tls_key", metavar="FILE")
    ap.add_argument("--max_lifetime_s", type=float, default=600.0,
                    metavar="S", help="stop after this long "
                    "(default: %(default)g)")
    args = ap.parse_args()
    if args.use_tls and not (args.tls_cert and args.tls_key):
        ap.error("--use_tls needs --tls_cert and --tls_key")

    p = stubs.load(args.stubs)
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=64),
        options=[("grpc.so_reuseport", 0)])
    p.test_grpc.add_TestServiceServicer_to_server(TestService(p), server)

    host = "[%s]" % args.host if ":" in args.host else args.host
    address = "%s:%d" % (host, args.port)
    if args.use_tls:
        creds = grpc.ssl_server_credentials(
            [(read(args.tls_key), read(args.tls_cert))])
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        sys.exit("interop_server: cannot listen on " + address)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print("listening on %s:%d (%s)" % (host, port,
          "tls" if args.use_tls else "h2c"), flush=True)
    end = time.monotonic() + args.max_lifetime_s
    while not stop.wait(0.2) and time.monotonic() < end:
        pass
    server.stop(None).wait()
    if not stop.is_set():
        sys.exit("interop_server: stopped after --max_lifetime_s %g"
                 % args.max_lifetime_s)


if __name__ == "__main__":
    main()
