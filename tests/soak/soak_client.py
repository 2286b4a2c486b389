#!/usr/bin/python3
"""grpcio's client in the soak test (soak.py, README.md).

For --seconds, --threads threads each call crpc.servertest.WorkerTest and
LoopTest (tests/server/README.md) in a loop, one scenario at a time, each
of the four method kinds on either service, as crpc-soak-client does:
  ok        the call completes and the reply is the one the request asks
  deadline  a short deadline passes while the handler sleeps or waits
  cancel    the client cancels the call while it runs
  close     the thread closes its channel under two running calls, then
            opens a new one (both calls end CANCELLED)
  cut       a new channel through the cutting relay at --cut-target, which
            resets the connection both ways once it sees "hello CUT!" go
            to the client: the call asking for it and the streams opened
            before it end UNAVAILABLE
Every call has a deadline. A call whose status is not the one its scenario
expects, or whose reply is wrong, is lost; a scenario still running
GRACE_S after its calls' deadlines is hung.

Usage: soak_client.py --target HOST:PORT --cut-target HOST:PORT
                      [--seconds N] [--threads N] [--seed N]
Prints one JSON line (calls, outcomes by status, scenarios, lost, hung and
the first few failures); exits 0 when no call was lost or hung, else 1.
"""
import argparse
import json
import os
import queue
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc")
import grpc  # noqa: E402
import protos  # noqa: E402

CALL_TIMEOUT_S = 10.0  # every call but the deadline scenario's
GRACE_S = 5.0          # past its deadline a call counts as hung
MAX_SAMPLES = 10
CUT_NAME = "CUT!"      # the relay cuts once "hello CUT!" comes back
KINDS = ("unary", "server_stream", "client_stream", "bidi")
SERVICES = {"worker": "WorkerTest", "loop": "LoopTest"}
SCENARIOS = (("ok", 55), ("deadline", 15), ("cancel", 15), ("close", 5),
             ("cut", 10))
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1),  # own connection
                   ("grpc.enable_retries", 0)]


class Tally:
    """Every outcome of the run, shared by the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = 0
        self.outcomes = {}
        self.scenarios = {name: 0 for name, _ in SCENARIOS}
        self.lost = 0
        self.hung = 0
        self.failures = []

    def sample(self, text):
        if len(self.failures) < MAX_SAMPLES:
            self.failures.append(text)

    def json(self, seconds):
        return json.dumps({
            "client": "grpcio", "seconds": round(seconds, 1),
            "calls": self.calls, "outcomes": self.outcomes,
            "scenarios": self.scenarios, "lost": self.lost,
            "hung": self.hung, "failures": self.failures})


class Feed:
    """A request iterator for a client or bidi stream, fed from the test's
    thread; end() finishes it, so grpcio's sending thread never waits for
    ever on a call that is over."""

    def __init__(self):
        self._q = queue.Queue()

    def put(self, req):
        self._q.put(req)

    def end(self):
        self._q.put(None)

    def __iter__(self):
        while True:
            req = self._q.get()
            if req is None:
                return
            yield req


def code_of(fn):
    """Runs fn; returns the gRPC status name it ended with."""
    try:
        fn()
        return "OK"
    except grpc.RpcError as e:
        return e.code().name
    except grpc.FutureCancelledError:  # a future the client cancelled
        return "CANCELLED"


class Worker:
    """One calling thread with its own channel and random stream."""

    def __init__(self, args, p, tally, index, end):
        self.args = args
        self.p = p
        self.tally = tally
        self.index = index
        self.end = end
        self.rng = random.Random(args.seed * 7919 + index)
        self.seq = 0
        self.limit = 0.0     # when the running scenario counts as hung
        self.serial = 0      # scenarios begun
        self.hung_serial = 0  # the main thread's: the scenario counted hung
        self.what = ""
        self.done = False
        self.channel = self.new_channel(args.target)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def new_channel(self, target):
        return grpc.insecure_channel(target, options=CHANNEL_OPTIONS)

    def stub(self, svc, channel=None):
        return getattr(self.p.grpc, SERVICES[svc] + "Stub")(channel or self.channel)

    def timeout(self, seconds):
        """A call's timeout: raises the scenario's hung limit to cover it."""
        self.limit = max(self.limit, time.monotonic() + seconds + GRACE_S)
        return seconds

    def name(self):
        self.seq += 1
        return "py%d-%d" % (self.index, self.seq)

    def note(self, want, got, wrong=None):
        with self.tally.lock:
            t = self.tally
            t.calls += 1
            t.outcomes[got] = t.outcomes.get(got, 0) + 1
            if got != want or wrong:
                t.lost += 1
                t.sample("%s: got %s, want %s%s" % (self.what, got, want,
                                                    ": " + wrong if wrong else ""))

    def check_rep(self, rep, name, index, svc):
        """None when |rep| is the |index|-th reply to |name| on |svc|."""
        if rep.text != "hello " + name:
            return "wrong text %r" % rep.text
        if rep.count != index:
            return "wrong count %d, want %d" % (rep.count, index)
        if rep.placement != svc:
            return "wrong placement %r" % rep.placement
        return None

    # The ok scenario.

    def ok_unary(self, svc):
        name = self.name()
        payload = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(256)))
        req = self.p.pb.Req(name=name, payload=payload, sleep_ms=self.rng.randrange(3))
        wrong = None

        def call():
            nonlocal wrong
            rep = self.stub(svc).Unary(req, timeout=self.timeout(CALL_TIMEOUT_S))
            wrong = self.check_rep(rep, name, 0, svc)
            if wrong is None and rep.payload != payload:
                wrong = "wrong payload"
        self.note("OK", code_of(call), wrong)

    def ok_server_stream(self, svc):
        name = self.name()
        req = self.p.pb.Req(name=name, count=1 + self.rng.randrange(16))
        wrong = None

        def call():
            nonlocal wrong
            n = 0
            for rep in self.stub(svc).ServerStream(
                    req, timeout=self.timeout(CALL_TIMEOUT_S)):
                wrong = wrong or self.check_rep(rep, name, n, svc)
                n += 1
            if wrong is None and n != req.count:
                wrong = "%d replies, want %d" % (n, req.count)
        self.note("OK", code_of(call), wrong)

    def ok_client_stream(self, svc):
        n = 1 + self.rng.randrange(16)
        reqs = [self.p.pb.Req(name=self.name()) for _ in range(n)]
        wrong = None

        def call():
            nonlocal wrong
            rep = self.stub(svc).ClientStream(
                iter(reqs), timeout=self.timeout(CALL_TIMEOUT_S))
            if rep.count != n or rep.text != ",".join(r.name for r in reqs):
                wrong = "wrong reply count %d text %r" % (rep.count, rep.text)
        self.note("OK", code_of(call), wrong)

    def ok_bidi(self, svc):
        name = self.name()
        feed = Feed()
        wrong = None

        def call():
            nonlocal wrong
            it = self.stub(svc).Bidi(iter(feed), timeout=self.timeout(CALL_TIMEOUT_S))
            for i in range(1 + self.rng.randrange(8)):
                feed.put(self.p.pb.Req(name=name))
                wrong = wrong or self.check_rep(next(it), name, i, svc)
            feed.end()
            for rep in it:
                wrong = wrong or "a reply after the last request"
        try:
            self.note("OK", code_of(call), wrong)
        finally:
            feed.end()

    # Calls that cannot end by themselves within CALL_TIMEOUT_S.

    def start_slow(self, svc, kind, timeout, channel=None):
        """Starts a call of |kind| that only its deadline or a cancellation
        ends: a unary handler waits for the cancellation, a server stream
        sends one reply and sleeps 5 s, a client stream's handler sleeps
        5 s on its first request, a bidi handler answers one request and
        waits for the next. A stream's reply has been read on return.
        Returns (call, feed); the call is a future for unary and client
        streams, else the response iterator. Raises grpc.RpcError when
        the first reply does not come."""
        stub = self.stub(svc, channel)
        timeout = self.timeout(timeout)
        name = self.name()
        if kind == "unary":
            req = self.p.pb.Req(name="soak", wait_cancel=True)
            return stub.Unary.future(req, timeout=timeout), None
        if kind == "server_stream":
            it = stub.ServerStream(self.p.pb.Req(name=name, count=50, sleep_ms=5000),
                                   timeout=timeout)
            next(it)
            return it, None
        feed = Feed()
        if kind == "client_stream":
            feed.put(self.p.pb.Req(name=name, sleep_ms=5000))
            return stub.ClientStream.future(iter(feed), timeout=timeout), feed
        it = stub.Bidi(iter(feed), timeout=timeout)
        feed.put(self.p.pb.Req(name=name, count=1))
        next(it)
        return it, feed

    def end_of(self, kind, call):
        """The status a call start_slow() started ended with."""
        if kind in ("unary", "client_stream"):
            return code_of(call.result)
        return code_of(lambda: [None for _ in call])

    def slow(self, svc, kind, timeout, want, then=None, channel=None):
        """A slow call, |then| (given the call) run while it runs; notes
        that it ended with |want|."""
        feed = None
        try:
            call, feed = self.start_slow(svc, kind, timeout, channel)
        except grpc.RpcError as e:
            self.note(want, e.code().name)
            return
        try:
            if then:
                then(call)
            self.note(want, self.end_of(kind, call))
        finally:
            if feed:
                feed.end()

    def deadline_call(self, svc, kind):
        self.slow(svc, kind, 0.05 + self.rng.random() * 0.25, "DEADLINE_EXCEEDED")

    def cancel_call(self, svc, kind):
        def cancel(call):
            time.sleep(0.01 + self.rng.random() * 0.15)
            call.cancel()
        self.slow(svc, kind, CALL_TIMEOUT_S, "CANCELLED", then=cancel)

    # Dropped connections.

    def close_channel(self, svc):
        """A slow server stream and a slow unary call, then the channel
        closed under them: both end CANCELLED; a new channel follows."""
        other = "loop" if svc == "worker" else "worker"
        started = []
        try:
            started.append(("server_stream",) + self.start_slow(
                svc, "server_stream", CALL_TIMEOUT_S))
        except grpc.RpcError as e:
            self.note("CANCELLED", e.code().name)
        started.append(("unary",) + self.start_slow(other, "unary", CALL_TIMEOUT_S))
        time.sleep(0.01 + self.rng.random() * 0.05)
        self.channel.close()
        for kind, call, _ in started:
            self.note("CANCELLED", self.end_of(kind, call))
        self.channel = self.new_channel(self.args.target)

    def cut_connection(self, svc, kind):
        """A new channel through the relay: up to two streams known to run,
        then a unary call whose reply makes the relay reset the connection;
        every call ends UNAVAILABLE."""
        skind = "bidi" if kind == "bidi" else "server_stream"
        other = "loop" if svc == "worker" else "worker"
        channel = self.new_channel(self.args.cut_target)
        streams = []
        try:
            for _ in range(self.rng.randrange(3)):
                try:
                    streams.append(self.start_slow(svc, skind, CALL_TIMEOUT_S,
                                                   channel))
                except grpc.RpcError as e:
                    self.note("UNAVAILABLE", e.code().name)
            req = self.p.pb.Req(name=CUT_NAME)
            self.note("UNAVAILABLE", code_of(lambda: self.stub(other, channel).Unary(
                req, timeout=self.timeout(CALL_TIMEOUT_S))))
            for call, _ in streams:
                self.note("UNAVAILABLE", self.end_of(skind, call))
        finally:
            for _, feed in streams:
                if feed:
                    feed.end()
            channel.close()

    def run_one(self):
        pick = self.rng.randrange(100)
        for scenario, weight in SCENARIOS:
            if pick < weight:
                break
            pick -= weight
        kind = self.rng.choice(KINDS)
        svc = self.rng.choice(("worker", "loop"))
        self.what = "%s %s %s" % (scenario, "two calls" if scenario == "close"
                                  else kind, svc)
        if scenario == "ok":
            getattr(self, "ok_" + kind)(svc)
        elif scenario == "deadline":
            self.deadline_call(svc, kind)
        elif scenario == "cancel":
            self.cancel_call(svc, kind)
        elif scenario == "close":
            self.close_channel(svc)
        else:
            self.cut_connection(svc, kind)
        with self.tally.lock:
            self.tally.scenarios[scenario] += 1

    def run(self):
        try:
            while time.monotonic() < self.end:
                self.serial += 1
                self.run_one()
                self.limit = 0.0
        except Exception as e:  # a bug in this client: a lost call
            with self.tally.lock:
                self.tally.lost += 1
                self.tally.sample("%s: %s: %s" % (self.what, type(e).__name__, e))
        finally:
            self.channel.close()
            self.done = True

    def check_hung(self, now, last):
        """Counts the running scenario as hung, once, when it is past its
        limit or the run's last moment; returns True when it is hung."""
        limit, serial = self.limit, self.serial
        if self.done or (now <= last and (not limit or now <= limit)):
            return False
        if self.hung_serial != serial:
            self.hung_serial = serial
            with self.tally.lock:
                self.tally.hung += 1
                self.tally.sample("%s: still running %.0f s past its deadline"
                                  % (self.what, GRACE_S))
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True, metavar="HOST:PORT")
    ap.add_argument("--cut-target", required=True, metavar="HOST:PORT")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seed", type=int, default=os.getpid())
    args = ap.parse_args()
    p = protos.load(argparse.Namespace(
        proto_path=None, proto="server_test.proto",
        health_proto=protos.DEFAULT_HEALTH_PROTO, protoc="protoc",
        grpc_python_plugin="/usr/bin/grpc_python_plugin"))

    tally = Tally()
    t0 = time.monotonic()
    end = t0 + args.seconds
    last = end + CALL_TIMEOUT_S + 2 * GRACE_S
    workers = [Worker(args, p, tally, i, end) for i in range(args.threads)]
    for w in workers:
        w.thread.start()
    while True:
        now = time.monotonic()
        hung = sum(w.check_hung(now, last) for w in workers)
        if all(w.done for w in workers) or (hung and now > end):
            break
        time.sleep(0.1)
    with tally.lock:
        print(tally.json(time.monotonic() - t0), flush=True)
        ok = tally.lost == 0 and tally.hung == 0
    if not all(w.done for w in workers):
        os._exit(1)  # a hung thread cannot be joined
    for w in workers:
        w.thread.join()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
