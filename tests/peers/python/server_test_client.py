#!/usr/bin/python3
"""Checks a server of crpc.servertest.WorkerTest and LoopTest with grpcio.

Every check is a real call, on both services where the check is about a
method: the four method kinds, status codes and messages, deadlines,
cancellation and deadlines seen by the handler, metadata, 4 MiB messages,
an oversize message, gzip both ways, unknown methods and services, health,
where the handlers ran, and two ordering checks (calls that sleep on the
loop, and workers that are all busy, do not hold up a quick loop call).
The behaviour expected is tests/server/README.md's.

Usage:
  server_test_client.py --target HOST:PORT [--tls --ca FILE
      [--server-name NAME]] [--client-cert FILE --client-key FILE]
      [--expect-placement auto|any|NAME] [--busy-calls N] [--only TEXT]
  server_test_client.py --target HOST:PORT --tls --ca FILE --expect-refused
  server_test_client.py --target HOST:PORT [TLS flags as above] --peer-auth
      [--expect-subject TEXT [--expect-common-name TEXT]
       [--expect-san TEXT...] | --expect-denied MESSAGE]

Prints "ok - NAME" or "not ok - NAME: reason" per check and then
"N passed, M failed"; exits 1 if a check failed. --expect-refused makes
one call that must fail with UNAVAILABLE (a TLS server that requires a
client certificate, called without one). --peer-auth checks, instead of
everything else, what the Unary handler of both services says of its
peer when asked with x-want-peer-auth: TLS or not, the TLS version, ALPN
h2, and the client certificate's subject, common name and SANs as
expected (none without --expect-subject); or, with --expect-denied, that
every call is refused PERMISSION_DENIED with that message before the
handler runs.
"""
import argparse
import os
import queue
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import require  # noqa: E402
require.modules("grpc")
import grpc  # noqa: E402
import protos  # noqa: E402
from proxy import CountingProxy  # noqa: E402

KiB = 1024
MiB = 1024 * 1024
LIMIT = 4 * MiB  # the server's default max message size
SERVICES = ("WorkerTest", "LoopTest")
# A non-ASCII status message with '%' in it: it is percent-encoded on the
# wire and must come back exactly.
STATUS_MESSAGE = "failed: \u00fcn\u00efc\u00f6d\u00e9 \u2713 100% done, %41 stays %41"
CODES = {c.value[0]: c for c in grpc.StatusCode}


class Failure(Exception):
    """A check's expectation did not hold; the message says how."""


def check(cond, reason):
    if not cond:
        raise Failure(reason)


def expect_error(code, fn, *args, **kwargs):
    """Calls fn, which must fail with |code|; returns the grpc.RpcError."""
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as e:
        check(e.code() == code, "got %s (%r) instead of %s"
              % (e.code().name, e.details(), code.name))
        return e
    raise Failure("the call succeeded instead of failing with %s" % code.name)


def md_values(md, key):
    return [m[1] for m in (md or ()) if m[0] == key]


def pattern(n):
    """n bytes of every value 0..255 in turn, so a shifted or damaged
    payload does not compare equal."""
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


class Client:
    def __init__(self, args, p):
        self.args = args
        self.p = p
        self.pb = p.pb
        self.T = args.call_timeout
        self.creds = None
        if args.tls:
            def read(path):
                with open(path, "rb") as f:
                    return f.read()
            self.creds = grpc.ssl_channel_credentials(
                root_certificates=read(args.ca),
                private_key=read(args.client_key) if args.client_key else None,
                certificate_chain=read(args.client_cert) if args.client_cert else None)
        self.channel = self.new_channel()
        self._proxy = None
        self._gzip_channel = None

    def new_channel(self, target=None, name=None):
        """A channel with its own connection (no subchannel sharing), a send
        limit far above the server's receive limit, and a receive limit
        above the largest reply a check asks for."""
        opts = [("grpc.use_local_subchannel_pool", 1),
                ("grpc.max_send_message_length", 64 * MiB),
                ("grpc.max_receive_message_length", 8 * MiB),
                ("grpc.enable_retries", 0)]
        name = name or self.args.server_name
        if self.args.tls:
            if name:
                opts += [("grpc.ssl_target_name_override", name),
                         ("grpc.default_authority", name)]
            return grpc.secure_channel(target or self.args.target, self.creds,
                                       options=opts)
        return grpc.insecure_channel(target or self.args.target, options=opts)

    def stub(self, svc, channel=None):
        return getattr(self.p.grpc, svc + "Stub")(channel or self.channel)

    def req(self, **kw):
        return self.pb.Req(**kw)

    def close(self):
        if self._gzip_channel:
            self._gzip_channel.close()
        if self._proxy:
            self._proxy.close()
        self.channel.close()

    # -- the four method kinds ------------------------------------------

    def unary(self, svc):
        rep = self.stub(svc).Unary(self.req(name="unary", payload=b"\x00\x01pay\xff"),
                                   timeout=self.T)
        check(rep.text == "hello unary", "text %r, want 'hello unary'" % rep.text)
        check(rep.payload == b"\x00\x01pay\xff", "payload %r not echoed" % rep.payload)

    def server_stream(self, svc):
        reps = list(self.stub(svc).ServerStream(
            self.req(name="ss", count=5, payload=b"p"), timeout=self.T))
        check(len(reps) == 5, "%d replies, want 5" % len(reps))
        for i, rep in enumerate(reps):
            check(rep.text == "hello ss" and rep.count == i and rep.payload == b"p",
                  "reply %d is %r/%d/%r" % (i, rep.text, rep.count, rep.payload))

    MIXED_SIZES = [1, 70000, 5, 300, MiB + 3, 16384, 16383, 0, 2, 65536,
                   3 * MiB // 2, 20000, 9, 17000, 17000, 17000]

    def server_stream_mixed(self, svc):
        """Replies of many sizes, small ones between large ones, faster
        than the window lets them go: every byte arrives, in order."""
        sizes = self.MIXED_SIZES
        n = 3 * len(sizes)
        reps = self.stub(svc).ServerStream(
            self.req(name="mixed", count=n, reply_sizes=sizes), timeout=self.T)
        got = 0
        for i, rep in enumerate(reps):
            want = bytes([i % 251]) * sizes[i % len(sizes)]
            check(rep.count == i and rep.payload == want,
                  "reply %d: count %d, %d bytes, want %d of %d" %
                  (i, rep.count, len(rep.payload), len(want), i % 251))
            got += 1
        check(got == n, "%d replies, want %d" % (got, n))

    def client_stream(self, svc):
        reqs = [self.req(name="c%d" % i, payload=bytes([i]) * 3) for i in range(5)]
        rep = self.stub(svc).ClientStream(iter(reqs), timeout=self.T)
        check(rep.text == "c0,c1,c2,c3,c4", "text %r, want 'c0,c1,c2,c3,c4'" % rep.text)
        check(rep.count == 5, "count %d, want 5" % rep.count)
        want = b"".join(r.payload for r in reqs)
        check(rep.payload == want, "payload %r, want %r" % (rep.payload, want))

    def bidi(self, svc):
        """Writes one request, reads its replies, then writes the next: a
        server that waited for the end of the request stream fails here."""
        q = queue.Queue()

        def requests():
            while True:
                r = q.get()
                if r is None:
                    return
                yield r

        call = self.stub(svc).Bidi(requests(), timeout=10)
        try:
            for i in range(5):
                count = 1 + i % 2
                q.put(self.req(name="b%d" % i, count=count))
                for j in range(count):
                    try:
                        rep = next(call)
                    except StopIteration:
                        raise Failure("stream ended after request %d" % i)
                    except grpc.RpcError as e:
                        raise Failure("waiting for reply %d to request %d: %s (%s)"
                                      % (j, i, e.code().name, e.details()))
                    check(rep.text == "hello b%d" % i and rep.count == i,
                          "reply %d to request %d is %r/%d" % (j, i, rep.text, rep.count))
            q.put(None)
            rest = list(call)
            check(not rest, "%d replies after the last request" % len(rest))
        finally:
            q.put(None)
            call.cancel()

    # -- status, deadlines, cancellation ----------------------------------

    def status(self, svc):
        e = expect_error(grpc.StatusCode.OUT_OF_RANGE, self.stub(svc).Unary,
                         self.req(name="st", status=11, message=STATUS_MESSAGE),
                         timeout=self.T)
        check(e.details() == STATUS_MESSAGE,
              "message %r, want %r" % (e.details(), STATUS_MESSAGE))
        check(md_values(e.trailing_metadata(), "x-status-trailer") == ["yes"],
              "trailer x-status-trailer missing: %r" % (e.trailing_metadata(),))

    def stream_status(self, svc):
        got = []
        try:
            for rep in self.stub(svc).ServerStream(
                    self.req(name="sst", count=3, status=9, message=STATUS_MESSAGE),
                    timeout=self.T):
                got.append(rep)
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.FAILED_PRECONDITION,
                  "got %s (%r), want FAILED_PRECONDITION" % (e.code().name, e.details()))
            check(e.details() == STATUS_MESSAGE, "message %r" % e.details())
            check(len(got) == 3, "%d replies before the status, want 3" % len(got))
            return
        raise Failure("the stream ended OK")

    def deadline(self, svc):
        t0 = time.monotonic()
        expect_error(grpc.StatusCode.DEADLINE_EXCEEDED, self.stub(svc).Unary,
                     self.req(name="dl", sleep_ms=3000), timeout=0.3)
        took = time.monotonic() - t0
        check(took < 2.0, "DEADLINE_EXCEEDED came after %.2f s" % took)

    def stats(self, tag, field, want=1):
        """Polls WorkerTest.Stats(tag) for up to 3 s until |field| reaches
        |want|; returns the last StatsRep."""
        end = time.monotonic() + 3
        stub = self.stub("WorkerTest")
        while True:
            s = stub.Stats(self.pb.StatsReq(tag=tag), timeout=self.T)
            if getattr(s, field) >= want or time.monotonic() > end:
                return s
            time.sleep(0.05)

    def cancel_seen(self, svc):
        tag = "cancel-%s-%s" % (svc, uuid.uuid4().hex)
        fut = self.stub(svc).Unary.future(self.req(name=tag, wait_cancel=True),
                                          timeout=self.T)
        time.sleep(0.2)
        if fut.done():
            raise Failure("the call ended before the client cancelled it: %s"
                          % fut.exception())
        fut.cancel()
        s = self.stats(tag, "cancelled")
        check(s.cancelled == 1 and s.deadline == 0,
              "Stats says cancelled=%d deadline=%d 3 s after the cancel, "
              "want cancelled=1 deadline=0" % (s.cancelled, s.deadline))

    def deadline_seen(self, svc):
        tag = "deadline-%s-%s" % (svc, uuid.uuid4().hex)
        expect_error(grpc.StatusCode.DEADLINE_EXCEEDED, self.stub(svc).Unary,
                     self.req(name=tag, wait_cancel=True), timeout=0.3)
        s = self.stats(tag, "deadline")
        check(s.deadline == 1 and s.cancelled == 0,
              "Stats says deadline=%d cancelled=%d 3 s after the deadline, "
              "want deadline=1 cancelled=0" % (s.deadline, s.cancelled))

    # -- metadata -----------------------------------------------------------

    def metadata(self, svc):
        text, binary = "text value, with spaces & punctuation!", b"\x00\x01\x02crpc\xfe\xff"
        _, call = self.stub(svc).Unary.with_call(
            self.req(name="md"), timeout=self.T,
            metadata=[("x-echo-text", text), ("x-echo-data-bin", binary),
                      ("x-other", "not echoed")])
        head, trail = call.initial_metadata(), call.trailing_metadata()
        want = [(head, "x-echo-text", text, "header"),
                (head, "x-echo-data-bin", binary, "header"),
                (trail, "x-echo-text-trailer", text, "trailer"),
                (trail, "x-echo-data-trailer-bin", binary, "trailer")]
        for md, key, value, where in want:
            got = md_values(md, key)
            check(got == [value], "%s %s is %r, want [%r]" % (where, key, got, value))
        check(not md_values(head, "x-other"), "x-other was echoed")

    # -- who the caller is --------------------------------------------------

    def peer_call(self, svc):
        return self.stub(svc).Unary.with_call(
            self.req(name="peer"), timeout=self.T,
            metadata=[("x-want-peer-auth", "1")])

    def peer_auth(self, svc):
        a = self.args
        _, call = self.peer_call(svc)
        head = call.initial_metadata()

        def want(key, values):
            got = md_values(head, key)
            check(got == values, "%s is %r, want %r" % (key, got, values))
        want("x-peer-tls", ["1" if a.tls else "0"])
        if a.tls:
            got = md_values(head, "x-peer-tls-version")
            check(got in (["TLSv1.2"], ["TLSv1.3"]),
                  "x-peer-tls-version is %r, want TLSv1.2 or TLSv1.3" % got)
            want("x-peer-alpn", ["h2"])
        else:
            want("x-peer-tls-version", [])
            want("x-peer-alpn", [])
        want("x-peer-verified", ["1" if a.expect_subject else "0"])
        want("x-peer-subject", [a.expect_subject] if a.expect_subject else [])
        want("x-peer-common-name",
             [a.expect_common_name] if a.expect_common_name else [])
        want("x-peer-san", a.expect_san or [])

    def peer_refused(self, svc):
        e = expect_error(grpc.StatusCode.PERMISSION_DENIED, self.peer_call, svc)
        check(e.details() == self.args.expect_denied,
              "message %r, want %r" % (e.details(), self.args.expect_denied))

    def peer_auth_checks(self):
        if self.args.expect_denied:
            return [("%s call refused: %s" % (svc, self.args.expect_denied),
                     lambda svc=svc: self.peer_refused(svc)) for svc in SERVICES]
        return [("%s peer auth seen by the handler" % svc,
                 lambda svc=svc: self.peer_auth(svc)) for svc in SERVICES]

    # -- message sizes ------------------------------------------------------

    def big_request(self, svc):
        """A request just under 4 MiB, echoed back (the reply is a few bytes
        larger, still under 4 MiB)."""
        n = LIMIT - 64
        probe = self.req(name="big", payload=pattern(n))
        n += LIMIT - 48 - probe.ByteSize()
        req = self.req(name="big", payload=pattern(n))
        check(req.ByteSize() == LIMIT - 48, "test bug: request is %d bytes" % req.ByteSize())
        rep = self.stub(svc).Unary(req, timeout=self.T)
        check(len(rep.payload) == n, "echoed payload is %d bytes, want %d"
              % (len(rep.payload), n))
        check(rep.payload == req.payload, "echoed payload differs")

    def big_response(self, svc):
        m = LIMIT - 64
        rep = self.stub(svc).Unary(self.req(name="bigrep", reply_bytes=m), timeout=self.T)
        check(rep.ByteSize() < LIMIT, "reply is %d bytes" % rep.ByteSize())
        check(rep.payload == b"x" * m, "payload is %d bytes, want %d x"
              % (len(rep.payload), m))

    def oversize(self, svc):
        stub = self.stub(svc)
        expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, stub.Unary,
                     self.req(name="over", payload=b"o" * (LIMIT + KiB), reply_bytes=1),
                     timeout=self.T)
        try:
            rep = stub.Unary(self.req(name="after"), timeout=self.T)
        except grpc.RpcError as e:
            raise Failure("the next call on the channel failed: %s (%s)"
                          % (e.code().name, e.details()))
        check(rep.text == "hello after", "next call's text %r" % rep.text)

    # -- compression ----------------------------------------------------------

    def gzip_channel(self):
        """A channel through a byte-counting relay, so the checks see what
        the messages cost on the wire."""
        if self._gzip_channel is None:
            self._proxy = CountingProxy(self.args.target)
            host = self.args.target.rsplit(":", 1)[0].strip("[]")
            self._gzip_channel = self.new_channel(
                "127.0.0.1:%d" % self._proxy.port, self.args.server_name or host)
        return self._gzip_channel

    def gzip_request(self, svc):
        stub = self.stub(svc, self.gzip_channel())
        stub.Unary(self.req(name="warm"), timeout=self.T)
        self._proxy.reset()
        rep = stub.Unary(self.req(name="gz", payload=b"z" * MiB, reply_bytes=1),
                         timeout=self.T, compression=grpc.Compression.Gzip)
        up, _ = self._proxy.counts()
        check(rep.payload == b"x", "reply payload %r" % rep.payload[:16])
        check(up < 256 * KiB, "a 1 MiB request took %d bytes on the wire: "
              "not compressed" % up)

    def gzip_response(self, svc):
        stub = self.stub(svc, self.gzip_channel())
        stub.Unary(self.req(name="warm"), timeout=self.T)
        self._proxy.reset()
        rep = stub.Unary(self.req(name="gzr", reply_bytes=MiB), timeout=self.T,
                         metadata=[("x-want-compression", "gzip")])
        _, down = self._proxy.counts()
        check(rep.payload == b"x" * MiB, "payload is %d bytes, want 1 MiB of x"
              % len(rep.payload))
        check(down < 256 * KiB, "a 1 MiB reply took %d bytes on the wire: "
              "not compressed" % down)

    # -- placement ------------------------------------------------------------

    def placement(self, svc):
        want = self.args.expect_placement
        if want == "auto":
            want = "worker" if svc == "WorkerTest" else "loop"
        stub = self.stub(svc)
        got = {
            "Unary": stub.Unary(self.req(name="pl"), timeout=self.T).placement,
            "ServerStream": [r.placement for r in stub.ServerStream(
                self.req(name="pl", count=1), timeout=self.T)][0],
            "ClientStream": stub.ClientStream(iter([self.req(name="pl")]),
                                              timeout=self.T).placement,
            "Bidi": [r.placement for r in stub.Bidi(
                iter([self.req(name="pl")]), timeout=self.T)][0],
        }
        for method, placement in got.items():
            if want == "any":
                check(placement, "%s: empty placement" % method)
            else:
                check(placement == want, "%s ran on %r, want %r" % (method, placement, want))

    # -- the server as a whole ----------------------------------------------

    def raw_call(self, path):
        return self.channel.unary_unary(
            path, request_serializer=lambda b: b,
            response_deserializer=lambda b: b)(b"", timeout=self.T)

    def unknown_method(self):
        expect_error(grpc.StatusCode.UNIMPLEMENTED, self.raw_call,
                     "/crpc.servertest.WorkerTest/NoSuchMethod")

    def unknown_service(self):
        expect_error(grpc.StatusCode.UNIMPLEMENTED, self.raw_call,
                     "/no.such.Service/Unary")

    def health_check(self, service):
        hpb = self.p.health_pb
        stub = self.p.health_grpc.HealthStub(self.channel)
        rep = stub.Check(hpb.HealthCheckRequest(service=service), timeout=self.T)
        check(rep.status == hpb.HealthCheckResponse.SERVING, "status %s, want SERVING"
              % hpb.HealthCheckResponse.ServingStatus.Name(rep.status))

    def health_unknown(self):
        hpb = self.p.health_pb
        stub = self.p.health_grpc.HealthStub(self.channel)
        expect_error(grpc.StatusCode.NOT_FOUND, stub.Check,
                     hpb.HealthCheckRequest(service="no.such.Service"), timeout=self.T)

    def health_watch(self):
        hpb = self.p.health_pb
        stub = self.p.health_grpc.HealthStub(self.channel)
        call = stub.Watch(hpb.HealthCheckRequest(service=""), timeout=self.T)
        try:
            first = next(call)
        except StopIteration:
            raise Failure("the watch ended without a message")
        finally:
            call.cancel()
        check(first.status == hpb.HealthCheckResponse.SERVING, "first status %s"
              % hpb.HealthCheckResponse.ServingStatus.Name(first.status))

    def overtakes(self, slow_svc, slow_req, n):
        """Starts |n| slow calls, then a quick LoopTest call; the quick one
        must complete first and all must succeed."""
        order, lock = [], threading.Lock()

        def track(label, fut):
            def done(_):
                with lock:
                    order.append(label)
            fut.add_done_callback(done)
            return fut

        slow = [track("slow%d" % i, self.stub(slow_svc).Unary.future(
            slow_req, timeout=self.T)) for i in range(n)]
        # The slow calls' streams are opened first on the same connection;
        # the pause only makes sure their handlers are running.
        time.sleep(0.2)
        quick = track("quick", self.stub("LoopTest").Unary.future(
            self.req(name="quick"), timeout=self.T))
        quick_rep = quick.result()
        for f in slow:
            f.result()
        check(quick_rep.text == "hello quick", "quick call's text %r" % quick_rep.text)
        with lock:
            check(order[0] == "quick", "completion order %s: the quick call "
                  "waited" % ",".join(order))

    def overtakes_sleeping(self):
        self.overtakes("LoopTest", self.req(name="slow", sleep_ms=1500), 3)

    def overtakes_busy_workers(self):
        self.overtakes("WorkerTest", self.req(name="busy", sleep_ms=1500, spin=True),
                       self.args.busy_calls)

    def checks(self):
        out = []
        for svc in SERVICES:
            for name, fn in [
                    ("unary", self.unary),
                    ("server streaming", self.server_stream),
                    ("server streaming of mixed sizes", self.server_stream_mixed),
                    ("client streaming", self.client_stream),
                    ("bidi streaming, interleaved", self.bidi),
                    ("status code and message", self.status),
                    ("status after server stream", self.stream_status),
                    ("deadline", self.deadline),
                    ("cancellation seen by the handler", self.cancel_seen),
                    ("deadline seen by the handler", self.deadline_seen),
                    ("metadata echo", self.metadata),
                    ("4 MiB request", self.big_request),
                    ("4 MiB response", self.big_response),
                    ("oversize request, channel still usable", self.oversize),
                    ("gzip request", self.gzip_request),
                    ("gzip response", self.gzip_response),
                    ("placement", self.placement)]:
                out.append(("%s %s" % (svc, name), lambda fn=fn, svc=svc: fn(svc)))
        out += [
            ("unknown method", self.unknown_method),
            ("unknown service", self.unknown_service),
            ("health Check(\"\")", lambda: self.health_check("")),
            ("health Check(WorkerTest)",
             lambda: self.health_check("crpc.servertest.WorkerTest")),
            ("health Check(LoopTest)",
             lambda: self.health_check("crpc.servertest.LoopTest")),
            ("health Check(unknown) is NOT_FOUND", self.health_unknown),
            ("health Watch(\"\")", self.health_watch),
            ("ordering: a quick loop call overtakes sleeping loop calls",
             self.overtakes_sleeping),
            ("ordering: a quick loop call overtakes busy workers",
             self.overtakes_busy_workers),
        ]
        return out


def run(checks, only):
    passed = failed = 0
    for name, fn in checks:
        if only and only not in name:
            continue
        try:
            fn()
        except Failure as e:
            reason = str(e)
        except grpc.RpcError as e:
            reason = "unexpected %s: %s" % (e.code().name, e.details())
        except Exception as e:  # a broken check is reported, not fatal
            reason = "%s: %s" % (type(e).__name__, e)
        else:
            print("ok - %s" % name, flush=True)
            passed += 1
            continue
        print("not ok - %s: %s" % (name, reason), flush=True)
        failed += 1
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return failed == 0


def expect_refused(client):
    def call():
        try:
            client.stub("WorkerTest").Unary(client.req(name="refused"), timeout=10)
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.UNAVAILABLE, "got %s (%s), want "
                  "UNAVAILABLE" % (e.code().name, e.details()))
            return
        raise Failure("the call succeeded")
    return run([("a call without a client certificate is refused", call)], None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True, metavar="HOST:PORT")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--ca", metavar="FILE", help="CA certificate (with --tls)")
    ap.add_argument("--server-name", metavar="NAME",
                    help="name to verify the server's certificate against")
    ap.add_argument("--client-cert", metavar="FILE")
    ap.add_argument("--client-key", metavar="FILE")
    ap.add_argument("--expect-placement", default="auto", metavar="auto|any|NAME",
                    help="auto: 'worker' for WorkerTest, 'loop' for LoopTest")
    ap.add_argument("--busy-calls", type=int, default=4, metavar="N",
                    help="spinning worker calls in the ordering check; at "
                    "least the server's worker count (default: %(default)s)")
    ap.add_argument("--call-timeout", type=float, default=30.0, metavar="S")
    ap.add_argument("--only", metavar="TEXT", help="run the checks whose name "
                    "contains TEXT")
    ap.add_argument("--expect-refused", action="store_true")
    ap.add_argument("--peer-auth", action="store_true",
                    help="check what the handler sees of its peer instead")
    ap.add_argument("--expect-subject", metavar="TEXT",
                    help="the client certificate's subject, RFC 2253")
    ap.add_argument("--expect-common-name", metavar="TEXT")
    ap.add_argument("--expect-san", action="append", metavar="TEXT",
                    help="a subjectAltName, \"DNS:name\"; repeatable, in order")
    ap.add_argument("--expect-denied", metavar="MESSAGE",
                    help="every call is PERMISSION_DENIED with MESSAGE")
    protos.add_arguments(ap)
    args = ap.parse_args()
    if args.tls and not args.ca:
        ap.error("--tls needs --ca")
    if bool(args.client_cert) != bool(args.client_key):
        ap.error("--client-cert and --client-key go together")
    if (args.client_cert or args.server_name) and not args.tls:
        ap.error("--client-cert and --server-name need --tls")
    expects = (args.expect_subject or args.expect_common_name or args.expect_san
               or args.expect_denied)
    if expects and not args.peer_auth:
        ap.error("--expect-subject, --expect-common-name, --expect-san and "
                 "--expect-denied go with --peer-auth")
    if (args.expect_common_name or args.expect_san) and not args.expect_subject:
        ap.error("--expect-common-name and --expect-san need --expect-subject")

    client = Client(args, protos.load(args))
    print("# grpcio %s -> %s (%s)" % (grpc.__version__, args.target,
          ("mTLS" if args.client_cert else "TLS") if args.tls else "plaintext"),
          flush=True)
    try:
        if args.expect_refused:
            ok = expect_refused(client)
        elif args.peer_auth:
            ok = run(client.peer_auth_checks(), args.only)
        else:
            ok = run(client.checks(), args.only)
    finally:
        client.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
