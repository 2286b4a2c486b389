#!/usr/bin/python3
"""The placement model under pressure: hostile peers and careless handlers
against crpc-server, each next to a well-behaved client that must keep
being served.

  stalled-<kind>  a raw HTTP/2 peer opens two streaming calls of <kind> on
                  WorkerTest and stalls them (bidi and client streaming:
                  never sends the next message; server streaming: keeps its
                  flow-control window at zero) with --workers 2; a grpcio
                  client's worker calls made meanwhile all succeed within
                  their deadline. First the same with --max-workers 2 (no
                  thread may stand in for a waiting handler), where a call
                  must end DEADLINE_EXCEEDED: the starvation this guards
                  against.
  share           one connection stalls 4 bidi calls against
                  --max-workers 4 --max-worker-calls-per-connection 2: two
                  run, two wait their turn, and another client is served
                  (and, first, with a share of 4, starved).
  stall-timeout   with --stall-timeout-ms, such stalled calls are
                  cancelled: the peer sees each stream end.
  self-call       with --workers 1, a worker handler (Compose.Nested) calls
                  a worker method of its own server through the blocking
                  stub, and completes (and, first, with --max-workers 1,
                  deadlocks until its deadline).
  blocked-loop    a coroutine handler that spins for 2 s: the server logs a
                  warning naming the method while it still runs, a call on
                  another loop is answered before it ends, and the log says
                  when the loop turned again.
  gather          1000 gathered one-second calls from a handler's channel
                  to a server allowing 100 streams per connection all
                  finish within a 6 s deadline, where one connection would
                  need 10 s (the channel opens more connections).

Usage: pressure.py BUILD_DIR SOURCE_DIR [--only NAME[,NAME...]]
Prints "ok - NAME" or "not ok - NAME: reason" per check and "N passed, M
failed"; exits 1 if a check failed. Every server's log is printed at the
end. Bounded in time; leaves nothing running.
"""
import os
import re
import select
import socket
import statistics
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc", "h2")
import grpc  # noqa: E402
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402
import checks  # noqa: E402
from bad_input import pb_field  # noqa: E402

GOOD_CALLS = 8
GOOD_DEADLINE_S = 5
# 1000 one-second calls through 100 streams per connection take 10 s on
# one connection; with more connections about 1 s, 4 s under
# ThreadSanitizer, and more beside other tests on a 2-core machine. Any
# time under 10 s shows the calls were not queued behind one connection's
# stream limit.
GATHER_DEADLINE_S = 9


def req_bytes(name="", count=0, reply_bytes=0):
    """A serialized crpc.servertest.Req, gRPC-framed."""
    msg = pb_field(1, name) + pb_field(4, count) + pb_field(7, reply_bytes)
    return b"\x00" + struct.pack(">I", len(msg)) + msg


class RawPeer:
    """A raw HTTP/2 connection (python3-h2) that opens gRPC streams and
    then misbehaves as asked. A thread reads what the server sends, acks
    its SETTINGS and PINGs, and never gives flow-control window back."""

    def __init__(self, port, window_zero=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        if window_zero:
            self.conn.update_settings(
                {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.headers = set()  # streams whose response headers came
        self.data = {}        # stream -> bytes of DATA received
        self.ended = {}       # stream -> "grpc-status N" or "reset CODE"
        self.pongs = 0
        self.closed = False
        self._flush()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def _read(self):
        while True:
            try:
                r, _, _ = select.select([self.sock], [], [], 0.2)
                if not r:
                    if self.closed:
                        return
                    continue
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            with self.cv:
                if not chunk:
                    self.closed = True
                    self.cv.notify_all()
                    return
                for ev in self.conn.receive_data(chunk):
                    self._event(ev)
                try:
                    self._flush()
                except OSError:
                    pass
                self.cv.notify_all()

    def _event(self, ev):
        if isinstance(ev, h2.events.ResponseReceived):
            self.headers.add(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived):
            self.data[ev.stream_id] = self.data.get(ev.stream_id, 0) + len(
                ev.data)
        elif isinstance(ev, h2.events.TrailersReceived):
            status = dict(ev.headers).get(b"grpc-status", b"?").decode()
            msg = dict(ev.headers).get(b"grpc-message", b"").decode()
            self.ended[ev.stream_id] = "grpc-status %s %s" % (status, msg)
        elif isinstance(ev, h2.events.StreamReset):
            self.ended.setdefault(ev.stream_id, "reset %d" % ev.error_code)
        elif isinstance(ev, h2.events.PingAckReceived):
            self.pongs += 1

    def open(self, path, first=b"", end=False):
        """Opens a stream to |path|, sends |first| (and END_STREAM when
        |end|); returns the stream id."""
        with self.cv:
            sid = self.conn.get_next_available_stream_id()
            self.conn.send_headers(sid, [
                (":method", "POST"), (":scheme", "http"), (":path", path),
                (":authority", "127.0.0.1"),
                ("content-type", "application/grpc"), ("te", "trailers")],
                end_stream=end and not first)
            if first:
                self.conn.send_data(sid, first, end_stream=end)
            self._flush()
            return sid

    def sync(self, timeout=10):
        """A PING answered: the server has read everything sent before."""
        with self.cv:
            want = self.pongs + 1
            self.conn.ping(b"crpc-syn")
            self._flush()
            if not self.cv.wait_for(lambda: self.pongs >= want or self.closed,
                                    timeout):
                raise AssertionError("no PING ACK in %d s" % timeout)

    def wait(self, pred, timeout):
        with self.cv:
            return self.cv.wait_for(lambda: pred(self) or self.closed, timeout)

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def channel(target):
    return grpc.insecure_channel(target, options=[
        ("grpc.use_local_subchannel_pool", 1), ("grpc.enable_retries", 0)])


def good_calls(p, target):
    """GOOD_CALLS worker calls one after another, then as many at once;
    each must succeed within GOOD_DEADLINE_S. Returns the median latency in
    ms."""
    ch = channel(target)
    stub = p.grpc.WorkerTestStub(ch)
    took = []
    try:
        for i in range(GOOD_CALLS):
            t0 = time.monotonic()
            try:
                rep = stub.Unary(p.pb.Req(name="good-%d" % i),
                                 timeout=GOOD_DEADLINE_S)
            except grpc.RpcError as e:
                raise AssertionError("call %d: %s: %s"
                                     % (i, e.code(), e.details()))
            took.append((time.monotonic() - t0) * 1000)
            if rep.text != "hello good-%d" % i:
                raise AssertionError("call %d: reply %r" % (i, rep.text))
        fs = [stub.Unary.future(p.pb.Req(name="par-%d" % i),
                                timeout=GOOD_DEADLINE_S)
              for i in range(GOOD_CALLS)]
        for i, f in enumerate(fs):
            try:
                f.result()
            except grpc.RpcError as e:
                raise AssertionError("concurrent call %d: %s: %s"
                                     % (i, e.code(), e.details()))
    finally:
        ch.close()
    return statistics.median(took)


STALLS = {
    # kind: (path, first message, END_STREAM after it, zero window)
    "bidi": ("/crpc.servertest.WorkerTest/Bidi", req_bytes("b", 1), False,
             False),
    "client-streaming": ("/crpc.servertest.WorkerTest/ClientStream",
                         req_bytes("c"), False, False),
    "server-streaming": ("/crpc.servertest.WorkerTest/ServerStream",
                         req_bytes("s", count=200, reply_bytes=65536), True,
                         True),
}


def stall(port, kinds, n=2):
    """Opens |n| stalled calls of each of |kinds| on one raw connection per
    kind; returns the peers and their streams, once the server has read
    the requests (and, for bidi, answered the first message, so its
    handlers run and wait)."""
    peers = []
    for kind in kinds:
        path, first, end, zero = STALLS[kind]
        peer = RawPeer(port, window_zero=zero)
        sids = [peer.open(path, first, end) for _ in range(n)]
        peer.sync()
        if kind == "bidi":
            if not peer.wait(lambda pr: all(pr.data.get(s) for s in sids),
                             10):
                raise AssertionError("the bidi handlers did not answer the "
                                     "first message")
        if kind == "server-streaming":
            if not peer.wait(lambda pr: all(s in pr.headers for s in sids),
                             10):
                raise AssertionError("the server-streaming handlers did "
                                     "not start writing")
        peers.append((kind, peer, sids))
    return peers


def starved_call(stub_method, req, timeout):
    """A call the server cannot run in time: it must end DEADLINE_EXCEEDED."""
    try:
        stub_method(req, timeout=timeout)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise AssertionError("the control call ended %s: %s"
                                 % (e.code(), e.details()))
        return
    raise AssertionError("the control call succeeded: nothing was starved")


def check_stalled(p, args, tmp, kinds):
    note = ""
    for control in (True, False) if len(kinds) == 1 else (False,):
        flags = ["--workers", "2", "--loops", "2"]
        if control:
            # No stand-ins, and no shedding under pressure either (its
            # time as long as the stall timeout turns it off).
            flags += ["--max-workers", "2",
                      "--max-worker-calls-per-connection", "2",
                      "--pressure-stall-ms", "300000"]
        server = checks.Server(args, tmp, "stalled-%s%s" % (
            "+".join(kinds), "-control" if control else ""),
            [os.path.join(args.build,
                          "tests/server/crpc_server_test_module.so")], flags)
        peers = []
        try:
            peers = stall(server.port, kinds)
            if control:
                ch = channel(server.target)
                try:
                    starved_call(p.grpc.WorkerTestStub(ch).Unary,
                                 p.pb.Req(name="starved"), 2)
                finally:
                    ch.close()
                continue
            median = good_calls(p, server.target)
            note = "%sthe good client's calls took %.1f ms (median) beside " \
                "%d stalled calls" % (
                    "with --max-workers 2 a call starved; with stand-ins "
                    if len(kinds) == 1 else "", median, 2 * len(kinds))
        finally:
            for _, peer, _ in peers:
                peer.close()
            rc = server.stop()
            if rc != 0:
                raise AssertionError("crpc-server exited %s after SIGTERM"
                                     % rc)
    return None, note


def check_share(p, args, tmp):
    for share in ("4", "2"):
        server = checks.Server(args, tmp, "share-" + share, [
            os.path.join(args.build,
                         "tests/server/crpc_server_test_module.so")],
            ["--workers", "2", "--loops", "1", "--max-workers", "4",
             "--max-worker-calls-per-connection", share] +
            # The starved control: no shedding under pressure.
            (["--pressure-stall-ms", "300000"] if share == "4" else []))
        peer = RawPeer(server.port)
        try:
            path, first, _, _ = STALLS["bidi"]
            sids = [peer.open(path, first) for _ in range(4)]
            peer.sync()
            running = int(share)
            if not peer.wait(lambda pr: sum(1 for s in sids if pr.data.get(s))
                             >= running, 10):
                raise AssertionError("share %s: fewer than %d bidi handlers "
                                     "ran" % (share, running))
            if share == "4":
                ch = channel(server.target)
                try:
                    starved_call(p.grpc.WorkerTestStub(ch).Unary,
                                 p.pb.Req(name="starved"), 2)
                finally:
                    ch.close()
                continue
            good_calls(p, server.target)
            with peer.cv:
                answered = sum(1 for s in sids if peer.data.get(s))
            if answered != 2:
                raise AssertionError("%d of the connection's 4 calls ran, "
                                     "not 2" % answered)
        finally:
            peer.close()
            server.stop()
    return None, "a connection with a share of 4 of 4 threads starved the " \
        "others; with a share of 2, 2 of its 4 calls ran, 2 waited, and " \
        "the other client was served"


def check_stall_timeout(p, args, tmp):
    server = checks.Server(args, tmp, "stall-timeout",
                    [os.path.join(args.build,
                                  "tests/server/crpc_server_test_module.so")],
                    ["--workers", "2", "--loops", "1",
                     "--stall-timeout-ms", "500"])
    peers = []
    try:
        peers = stall(server.port, ["bidi", "client-streaming",
                                    "server-streaming"])
        for kind, peer, sids in peers:
            if not peer.wait(lambda pr: all(s in pr.ended for s in sids), 20):
                raise AssertionError("%s streams still open 20 s later"
                                     % kind)
            for s in sids:
                if "grpc-status 1 " not in peer.ended[s] and \
                        not peer.ended[s].startswith("reset"):
                    raise AssertionError("%s stream ended with %s"
                                         % (kind, peer.ended[s]))
        good_calls(p, server.target)
        return server, "; ".join("%s: %s" % (k, pr.ended[s[0]])
                                 for k, pr, s in peers)
    finally:
        for _, peer, _ in peers:
            peer.close()
        server.stop()


def check_self_call(p, args, tmp):
    modules = [
        os.path.join(args.build, "tests/server/crpc_server_test_module.so"),
        os.path.join(args.build, "tests/client/crpc_client_compose_module.so")]
    control = checks.Server(args, tmp, "self-call-control", modules,
                     ["--workers", "1", "--loops", "1", "--max-workers", "1"])
    try:
        ch = channel(control.target)
        try:
            starved_call(p.compose_grpc.ComposeStub(ch).Nested,
                         p.compose_pb.NestReq(target=control.target,
                                              worker=True, tag="self"), 3)
        finally:
            ch.close()
    finally:
        control.stop()
    server = checks.Server(args, tmp, "self-call", modules,
                    ["--workers", "1", "--loops", "1"])
    try:
        ch = channel(server.target)
        stub = p.compose_grpc.ComposeStub(ch)
        try:
            rep = stub.Nested(p.compose_pb.NestReq(
                target=server.target, worker=True, tag="self"), timeout=10)
        except grpc.RpcError as e:
            raise AssertionError("%s: %s" % (e.code(), e.details()))
        finally:
            ch.close()
        if rep.placement != "worker" or rep.text != "hello self":
            raise AssertionError("reply %r from %r" % (rep.text,
                                                      rep.placement))
        return server, "with --max-workers 1 it deadlocked until its " \
            "deadline; with stand-ins Compose.Nested on the only worker " \
            "called WorkerTest.Unary of its own server"
    finally:
        server.stop()


def check_blocked_loop(p, args, tmp):
    server = checks.Server(args, tmp, "blocked-loop",
                    [os.path.join(args.build,
                                  "tests/server/crpc_server_test_module.so")],
                    ["--workers", "2", "--loops", "2"])
    try:
        # Two connections, on loops 0 and 1 (round robin).
        spin_ch, probe_ch = channel(server.target), channel(server.target)
        spin_stub = p.grpc.LoopTestStub(spin_ch)
        probe_stub = p.grpc.LoopTestStub(probe_ch)
        spin_stub.Unary(p.pb.Req(name="warm"), timeout=10)
        probe_stub.Unary(p.pb.Req(name="warm"), timeout=10)
        spinning = spin_stub.Unary.future(
            p.pb.Req(name="spin", spin=True, sleep_ms=2000), timeout=30)
        # The warning appears while the handler still runs.
        warn = re.compile(r"warn.*loop \d+ has not turned for \d+ ms: "
                          r"/crpc\.servertest\.LoopTest/Unary")
        end = time.monotonic() + 20
        while not warn.search(server.log()):
            if spinning.done() or time.monotonic() > end:
                raise AssertionError("no stall warning while the handler "
                                     "ran; log:\n" + server.log())
            time.sleep(0.02)
        if spinning.done():
            raise AssertionError("the warning came only after the handler")
        probe_stub.Unary(p.pb.Req(name="probe"), timeout=10)
        if spinning.done():
            raise AssertionError("the probe on the other loop was answered "
                                 "only after the spinning handler ended")
        spinning.result()
        spin_ch.close()
        probe_ch.close()
        again = re.compile(r"loop \d+ turned again after (\d+) ms "
                           r"\(/crpc\.servertest\.LoopTest/Unary\)")
        end = time.monotonic() + 10
        while not again.search(server.log()):
            if time.monotonic() > end:
                raise AssertionError("no 'turned again' line")
            time.sleep(0.02)
        return server, "warned while it ran; probe answered meanwhile; " \
            "stalled %s ms" % again.search(server.log()).group(1)
    finally:
        server.stop()


def check_gather(p, args, tmp):
    server = checks.Server(args, tmp, "gather", [
        os.path.join(args.build, "tests/server/crpc_server_test_module.so"),
        os.path.join(args.build, "tests/client/crpc_client_compose_module.so")],
        ["--workers", "2", "--loops", "2", "--max-concurrent-streams", "100"])
    try:
        ch = channel(server.target)
        stub = p.compose_grpc.ComposeStub(ch)
        try:
            rep = stub.FanOut(p.compose_pb.FanReq(
                target=server.target, n=1000, sleep_ms=1000, parallel=True),
                timeout=GATHER_DEADLINE_S)
        except grpc.RpcError as e:
            raise AssertionError("%s: %s" % (e.code(), e.details()))
        finally:
            ch.close()
        if rep.ok != 1000:
            raise AssertionError("%d ok, %d failed, first: %s"
                                 % (rep.ok, rep.failed, rep.first_error))
        return server, "1000 one-second calls gathered in %d ms" \
            % rep.elapsed_ms
    finally:
        server.stop()


def main():
    args = checks.parse_args(__doc__)
    p = checks.load_protos(args.source)
    return checks.run([
        ("stalled-bidi", lambda tmp: check_stalled(p, args, tmp, ["bidi"])[1]),
        ("stalled-client-streaming",
         lambda tmp: check_stalled(p, args, tmp, ["client-streaming"])[1]),
        ("stalled-server-streaming",
         lambda tmp: check_stalled(p, args, tmp, ["server-streaming"])[1]),
        ("stalled-all-kinds", lambda tmp: check_stalled(
            p, args, tmp, ["bidi", "client-streaming", "server-streaming"])[1]),
        ("share", lambda tmp: check_share(p, args, tmp)[1]),
        ("stall-timeout", lambda tmp: check_stall_timeout(p, args, tmp)[1]),
        ("self-call", lambda tmp: check_self_call(p, args, tmp)[1]),
        ("blocked-loop", lambda tmp: check_blocked_loop(p, args, tmp)[1]),
        ("gather", lambda tmp: check_gather(p, args, tmp)[1]),
    ], args.only, "crpc-pressure-")


if __name__ == "__main__":
    sys.exit(main())
