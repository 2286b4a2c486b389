#!/usr/bin/python3
"""A grpcio client of gRPC's interop test cases (grpc.testing.TestService).

The cases are gRPC's interop-test-descriptions.md, as tests/interop's
contract spells them out. "all" runs the 16 standard ones in order:
empty_unary large_unary client_compressed_unary server_compressed_unary
client_streaming server_streaming ping_pong empty_stream
status_code_and_message special_status_message unimplemented_method
unimplemented_service cancel_after_begin cancel_after_first_response
timeout_on_sleeping_server custom_metadata. Two more run only when named:
client_compressed_unary_noprobe (client_compressed_unary without its probe,
for servers that cannot tell a compressed request from a plain one) and
server_id (10 calls, printing the server ids that answered and how many
calls each got).

grpcio does not tell a client whether a response message arrived
compressed, so server_compressed_unary makes its calls on a channel of
their own through a loopback relay that counts the bytes coming back.

Usage:
  interop_client.py --stubs DIR --server_port P [--server_host H]
      [--test_case NAME|all|NAME,NAME,...] [--use_tls [true|false]
      [--ca_file F] [--server_host_override NAME]]

Prints "ok - CASE" or "not ok - CASE: reason" as each case ends, then
"N passed, M failed"; exits 0 if none failed, 1 otherwise, 2 on a bad
command line. Every call has a deadline (30 s unless a case says
otherwise).
"""
import os
import queue
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc")
import grpc  # noqa: E402
import stubs  # noqa: E402
from proxy import CountingProxy  # noqa: E402

T = 30.0
STANDARD = [
    "empty_unary", "large_unary", "client_compressed_unary",
    "server_compressed_unary", "client_streaming", "server_streaming",
    "ping_pong", "empty_stream", "status_code_and_message",
    "special_status_message", "unimplemented_method", "unimplemented_service",
    "cancel_after_begin", "cancel_after_first_response",
    "timeout_on_sleeping_server", "custom_metadata"]
EXTRA = ["client_compressed_unary_noprobe", "server_id"]
# (response size, request payload size) of each ping_pong round.
PING_PONG = [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)]
ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")
SPECIAL_MESSAGE = ("\t\ntest with whitespace\r\nand Unicode BMP \u263a "
                   "and non-BMP \U0001f608\t\n")
# A gzip-compressed message of 314159 zeros takes a few hundred bytes on
# the wire, a plain one more than 314159.
COMPRESSED_MAX = 10000


class Failure(Exception):
    """A case's expectation did not hold; the message says how."""


def check(cond, reason):
    if not cond:
        raise Failure(reason)


def describe(e):
    return "%s (%r)" % (e.code().name, e.details())


def expect_error(code, fn, *args, message=None, **kwargs):
    """Calls fn, which must fail with |code| (and |message| if given)."""
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as e:
        check(e.code() == code and (message is None or e.details() == message),
              "got %s, want %s%s" % (describe(e), code.name,
                                     "" if message is None else " (%r)" % message))
        return
    raise Failure("the call succeeded, want %s" % code.name)


class Pipe:
    """A request iterator fed one message at a time; close() half-closes
    the call."""

    def __init__(self):
        self._q = queue.Queue()

    def __iter__(self):
        return self

    def __next__(self):
        item = self._q.get()
        if item is None:
            raise StopIteration()
        return item

    def add(self, item):
        self._q.put(item)

    def close(self):
        self._q.put(None)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


class Client:
    def __init__(self, args, p):
        self.args = args
        self.m = p.messages
        self.p = p
        host = args.server_host
        self.host = host.strip("[]")
        self.target = "%s:%d" % ("[%s]" % self.host if ":" in self.host
                                 else self.host, args.server_port)
        self.creds = None
        if args.use_tls:
            ca = None
            if args.ca_file:
                with open(args.ca_file, "rb") as f:
                    ca = f.read()
            self.creds = grpc.ssl_channel_credentials(root_certificates=ca)
        self.channel = self.new_channel(self.target)
        self.stub = p.test_grpc.TestServiceStub(self.channel)

    def new_channel(self, target):
        """A channel to |target| that names the server as a channel to
        --server_host would (TLS name and :authority)."""
        opts = [("grpc.use_local_subchannel_pool", 1),
                ("grpc.enable_retries", 0)]
        if self.args.server_host_override:
            opts.append(("grpc.default_authority",
                         self.args.server_host_override))
        elif target != self.target:
            opts.append(("grpc.default_authority", self.target))
        if not self.args.use_tls:
            return grpc.insecure_channel(target, options=opts)
        opts.append(("grpc.ssl_target_name_override",
                     self.args.server_host_override or self.host))
        return grpc.secure_channel(target, self.creds, options=opts)

    def close(self):
        self.channel.close()

    # -- messages -------------------------------------------------------------

    def payload(self, size):
        return self.m.Payload(type=self.m.COMPRESSABLE, body=bytes(size))

    def large_request(self, **kw):
        return self.m.SimpleRequest(response_type=self.m.COMPRESSABLE,
                                    response_size=314159,
                                    payload=self.payload(271828), **kw)

    def check_payload(self, payload, size, what="response"):
        n = len(payload.body)
        check(n == size and payload.body == bytes(size),
              "%s payload is %d bytes%s, want %d zeros"
              % (what, n, "" if payload.body == bytes(n) else " (not all zero)",
                 size))

    def streaming_request(self, size, payload_size, **kw):
        return self.m.StreamingOutputCallRequest(
            response_type=self.m.COMPRESSABLE,
            response_parameters=[self.m.ResponseParameters(size=size)],
            payload=self.payload(payload_size), **kw)

    def next_response(self, call, size, what):
        try:
            rep = next(call)
        except StopIteration:
            raise Failure("%s: the stream ended (%s), want a response"
                          % (what, call.code().name))
        self.check_payload(rep.payload, size, what)

    def expect_end(self, call):
        """The stream must end with no further response, then OK."""
        try:
            rep = next(call)
        except StopIteration:
            check(call.code() == grpc.StatusCode.OK, "ended with %s (%r), "
                  "want OK" % (call.code().name, call.details()))
            return
        raise Failure("an extra response of %d bytes came, want the end"
                      % len(rep.payload.body))

    # -- the cases --------------------------------------------------------------

    def empty_unary(self):
        rep = self.stub.EmptyCall(self.p.empty.Empty(), timeout=T)
        check(isinstance(rep, self.p.empty.Empty) and rep.ByteSize() == 0,
              "the response is not an empty Empty")

    def large_unary(self):
        rep = self.stub.UnaryCall(self.large_request(), timeout=T)
        self.check_payload(rep.payload, 314159)

    def client_compressed_unary(self):
        try:
            expect_error(grpc.StatusCode.INVALID_ARGUMENT, self.stub.UnaryCall,
                         self.large_request(
                             expect_compressed=self.m.BoolValue(value=True)),
                         timeout=T)
        except Failure as e:
            raise Failure("the probe (a plain request with "
                          "expect_compressed=true): %s" % e)
        self.client_compressed_unary_noprobe()

    def client_compressed_unary_noprobe(self):
        for compressed in (True, False):
            what = "a %s request" % ("compressed" if compressed else "plain")
            try:
                rep = self.stub.UnaryCall(
                    self.large_request(
                        expect_compressed=self.m.BoolValue(value=compressed)),
                    timeout=T, compression=grpc.Compression.Gzip
                    if compressed else grpc.Compression.NoCompression)
            except grpc.RpcError as e:
                raise Failure("%s with expect_compressed=%s failed: %s"
                              % (what, compressed, describe(e)))
            self.check_payload(rep.payload, 314159, what + "'s response")

    def server_compressed_unary(self):
        relay = CountingProxy(self.target)
        channel = self.new_channel("127.0.0.1:%d" % relay.port)
        try:
            stub = self.p.test_grpc.TestServiceStub(channel)
            # Connection set-up and TLS handshakes are not counted.
            stub.EmptyCall(self.p.empty.Empty(), timeout=T)
            for compressed in (True, False):
                relay.reset()
                rep = stub.UnaryCall(self.large_request(
                    response_compressed=self.m.BoolValue(value=compressed)),
                    timeout=T)
                _, down = relay.counts()
                what = "response_compressed=%s" % compressed
                self.check_payload(rep.payload, 314159, what)
                if compressed:
                    check(down < COMPRESSED_MAX, "%s: the response took %d "
                          "bytes on the wire: not compressed" % (what, down))
                else:
                    check(down > 314159, "%s: the response took only %d "
                          "bytes on the wire: compressed" % (what, down))
        finally:
            channel.close()
            relay.close()

    def client_streaming(self):
        reqs = [self.m.StreamingInputCallRequest(payload=self.payload(n))
                for n in (27182, 8, 1828, 45904)]
        rep = self.stub.StreamingInputCall(iter(reqs), timeout=T)
        check(rep.aggregated_payload_size == 74922,
              "aggregated_payload_size %d, want 74922"
              % rep.aggregated_payload_size)

    def server_streaming(self):
        sizes = [31415, 9, 2653, 58979]
        req = self.m.StreamingOutputCallRequest(
            response_type=self.m.COMPRESSABLE,
            response_parameters=[self.m.ResponseParameters(size=n)
                                 for n in sizes])
        call = self.stub.StreamingOutputCall(req, timeout=T)
        got = [len(r.payload.body) for r in call]
        check(got == sizes, "response sizes %s, want %s" % (got, sizes))
        check(call.code() == grpc.StatusCode.OK, "ended with %s"
              % call.code().name)

    def ping_pong(self):
        with Pipe() as pipe:
            call = self.stub.FullDuplexCall(pipe, timeout=T)
            for i, (size, payload_size) in enumerate(PING_PONG):
                pipe.add(self.streaming_request(size, payload_size))
                self.next_response(call, size, "round %d" % (i + 1))
            pipe.close()
            self.expect_end(call)

    def empty_stream(self):
        call = self.stub.FullDuplexCall(iter([]), timeout=T)
        self.expect_end(call)

    def status_code_and_message(self):
        message = "test status message"
        self.expect_status(message)

    def special_status_message(self):
        self.expect_status(SPECIAL_MESSAGE, streaming=False)

    def expect_status(self, message, streaming=True):
        status = self.m.EchoStatus(code=2, message=message)
        expect_error(grpc.StatusCode.UNKNOWN, self.stub.UnaryCall,
                     self.m.SimpleRequest(response_status=status),
                     timeout=T, message=message)
        if not streaming:
            return
        req = self.m.StreamingOutputCallRequest(response_status=status)

        def full_duplex():
            for rep in self.stub.FullDuplexCall(iter([req]), timeout=T):
                raise Failure("FullDuplexCall sent a response of %d bytes"
                              % len(rep.payload.body))
        try:
            expect_error(grpc.StatusCode.UNKNOWN, full_duplex, message=message)
        except Failure as e:
            raise Failure("FullDuplexCall: %s" % e)

    def unimplemented_method(self):
        expect_error(grpc.StatusCode.UNIMPLEMENTED, self.stub.UnimplementedCall,
                     self.p.empty.Empty(), timeout=T)

    def unimplemented_service(self):
        stub = self.p.test_grpc.UnimplementedServiceStub(self.channel)
        expect_error(grpc.StatusCode.UNIMPLEMENTED, stub.UnimplementedCall,
                     self.p.empty.Empty(), timeout=T)

    def cancel_after_begin(self):
        with Pipe() as pipe:
            fut = self.stub.StreamingInputCall.future(pipe, timeout=T)
            fut.cancel()
            check(fut.code() == grpc.StatusCode.CANCELLED,
                  "ended with %s (%r), want CANCELLED"
                  % (fut.code().name, fut.details()))

    def cancel_after_first_response(self):
        with Pipe() as pipe:
            call = self.stub.FullDuplexCall(pipe, timeout=T)
            pipe.add(self.streaming_request(31415, 27182))
            self.next_response(call, 31415, "the first response")
            call.cancel()
            check(call.code() == grpc.StatusCode.CANCELLED,
                  "ended with %s (%r), want CANCELLED"
                  % (call.code().name, call.details()))

    def timeout_on_sleeping_server(self):
        with Pipe() as pipe:
            call = self.stub.FullDuplexCall(pipe, timeout=0.001)
            pipe.add(self.m.StreamingOutputCallRequest(
                payload=self.payload(27182)))
            expect_error(grpc.StatusCode.DEADLINE_EXCEEDED, next, call)

    def custom_metadata(self):
        md = [ECHO_INITIAL, ECHO_TRAILING]
        rep, call = self.stub.UnaryCall.with_call(
            self.large_request(), timeout=T, metadata=md)
        self.check_payload(rep.payload, 314159)
        self.check_echo(call, "UnaryCall")
        with Pipe() as pipe:
            call = self.stub.FullDuplexCall(pipe, timeout=T, metadata=md)
            pipe.add(self.streaming_request(314159, 271828))
            self.next_response(call, 314159, "FullDuplexCall")
            pipe.close()
            self.expect_end(call)
            self.check_echo(call, "FullDuplexCall")

    def check_echo(self, call, what):
        for md, (key, value), where in [
                (call.initial_metadata(), ECHO_INITIAL, "headers"),
                (call.trailing_metadata(), ECHO_TRAILING, "trailers")]:
            got = [v for k, v in md or () if k == key]
            check(got == [value], "%s: %s %s is %r, want [%r]"
                  % (what, where, key, got, value))

    def server_id(self):
        """Returns the ids seen, as "ID=calls ..." sorted by id."""
        seen = {}
        for _ in range(10):
            rep = self.stub.UnaryCall(
                self.m.SimpleRequest(fill_server_id=True), timeout=T)
            check(rep.server_id and " " not in rep.server_id,
                  "server_id %r, want a non-empty id without spaces"
                  % rep.server_id)
            seen[rep.server_id] = seen.get(rep.server_id, 0) + 1
        return " ".join("%s=%d" % kv for kv in sorted(seen.items()))


def run(client, cases):
    passed = failed = 0
    for name in cases:
        try:
            note = getattr(client, name)()
        except Failure as e:
            reason = str(e)
        except grpc.RpcError as e:
            reason = "unexpected %s" % describe(e)
        except Exception as e:  # a broken case is reported, not fatal
            reason = "%s: %s" % (type(e).__name__, e)
        else:
            print("ok - %s%s" % (name, ": " + note if note else ""),
                  flush=True)
            passed += 1
            continue
        print("not ok - %s: %s" % (name, reason), flush=True)
        failed += 1
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return failed == 0


def main():
    ap = stubs.new_parser(__doc__)
    ap.add_argument("--server_host", default="127.0.0.1")
    ap.add_argument("--server_port", type=int, required=True)
    ap.add_argument("--test_case", default="all",
                    metavar="NAME|all|NAME,NAME,...")
    stubs.add_bool(ap, "--use_tls", "call over TLS")
    ap.add_argument("--ca_file", metavar="FILE",
                    help="CA to trust with --use_tls (default: the system's)")
    ap.add_argument("--server_host_override", metavar="NAME",
                    help="TLS server name and :authority "
                    "(default: --server_host)")
    args = ap.parse_args()
    cases = []
    for name in args.test_case.split(","):
        if name == "all":
            cases += STANDARD
        elif name in STANDARD or name in EXTRA:
            cases.append(name)
        else:
            ap.error("unknown test case %r (known: all, %s)"
                     % (name, ", ".join(STANDARD + EXTRA)))

    client = Client(args, stubs.load(args.stubs))
    try:
        ok = run(client, cases)
    finally:
        client.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
