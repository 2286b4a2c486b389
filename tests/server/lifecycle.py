#!/usr/bin/python3
"""crpc-server's connection lifecycle, as an operator behind a load balancer
meets it: the lame-duck period, max connection age, server keepalive and
the client ping policy.

  - lame duck (--lame-duck-seconds 2): after SIGTERM, a kept-open
    connection's health Check answers NOT_SERVING, new connections are
    still accepted, their health Check answers NOT_SERVING and their calls
    succeed; a call in flight completes; only after the period are new
    connections refused; the server exits 0;
  - a second SIGTERM during the lame-duck period (--lame-duck-seconds 60)
    starts the drain at once: the server exits 0 long before the period;
  - max connection age (--max-connection-age-ms 400): grpcio's client (with
    its default transparent retries) makes calls back to back for 3 s,
    some longer than the age, and none fails while the server sends GOAWAY
    to each of its connections in turn;
  - the age's grace (--max-connection-age-grace-ms 500): a call longer than
    age + grace ends UNAVAILABLE, soon, and the client calls again;
  - keepalive (--keepalive-time-ms 200 --keepalive-timeout-ms 400): a
    client that answers PINGs keeps its connection; one that does not is
    closed;
  - ping policy: a raw HTTP/2 client pinging with no call open gets GOAWAY
    ENHANCE_YOUR_CALM "too_many_pings" at the third strike; one whose PINGs
    each follow a call's answer (the server sent HEADERS and DATA since)
    never does.

Usage: lifecycle.py BUILD_DIR SOURCE_DIR
Prints "ok - NAME" or "not ok - NAME: reason" per check and "N passed, M
failed"; exits 1 if a check failed.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "peers", "python"))
sys.path.insert(0, HERE)
import require  # noqa: E402
require.modules("grpc", "h2")
import grpc  # noqa: E402
import procs  # noqa: E402
import bad_input as b  # noqa: E402

START_TIMEOUT_S = 30
SANITIZER_REPORT = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|"
    r"runtime error:")

results = []


def report(name, ok, reason=""):
    results.append(ok)
    print("ok - %s" % name if ok else "not ok - %s: %s" % (name, reason),
          flush=True)


class Server:
    """crpc-server with the test module and |flags|, on 127.0.0.1."""

    def __init__(self, args, workdir, name, flags):
        cmd = [os.path.join(args.build, "server/bin/crpc-server"),
               "--module", os.path.join(
                   args.build, "tests/server/crpc_server_test_module.so"),
               "--loops", "1", "--workers", "2", "--log-level", "debug",
               "--listen", "127.0.0.1:0"] + flags
        self.log_path = os.path.join(workdir, name + ".log")
        self.p = procs.LoggedProcess(cmd, self.log_path)
        self.proc = self.p.proc
        (m,) = self.p.wait_for([r"listening on 127\.0\.0\.1:(\d+)"],
                               START_TIMEOUT_S)
        self.port = int(m.group(1))
        self.target = "127.0.0.1:%d" % self.port

    def log(self):
        return self.p.read_log()

    def finish(self, name):
        """Kills it if still running; reports its log's sanitizer lines."""
        self.p.kill()
        log = self.log()
        if SANITIZER_REPORT.search(log):
            print("--- %s log ---\n%s" % (name, log), flush=True)
        report("%s: no sanitizer report" % name,
               not SANITIZER_REPORT.search(log), "see the log above")


def channel(target, retries=False):
    """A grpcio channel of its own. Without |retries| not even gRPC's
    transparent retries (of calls a GOAWAY caught before they reached the
    server) happen, so any refusal shows."""
    opts = [("grpc.use_local_subchannel_pool", 1)]
    if not retries:
        opts.append(("grpc.enable_retries", 0))
    return grpc.insecure_channel(target, options=opts)


def health(ch, timeout=5):
    return P.health_grpc.HealthStub(ch).Check(
        P.health_pb.HealthCheckRequest(service=""), timeout=timeout).status


def unary(ch, name, sleep_ms=0, timeout=10):
    return P.grpc.LoopTestStub(ch).Unary(
        P.pb.Req(name=name, sleep_ms=sleep_ms), timeout=timeout)


def lame_duck(args, workdir):
    name = "lame duck"
    srv = Server(args, workdir, "lame-duck",
                 ["--lame-duck-seconds", "2", "--drain-seconds", "5"])
    kept = channel(srv.target)
    try:
        SERVING = P.health_pb.HealthCheckResponse.SERVING
        NOT_SERVING = P.health_pb.HealthCheckResponse.NOT_SERVING
        if health(kept) != SERVING:
            return report(name, False, "not SERVING before SIGTERM")
        long_call = P.grpc.LoopTestStub(kept).Unary.future(
            P.pb.Req(name="long", sleep_ms=2500), timeout=30)
        srv.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        # The kept-open connection sees NOT_SERVING (no refusal).
        end = t0 + 2
        status = health(kept)
        while status != NOT_SERVING and time.monotonic() < end:
            status = health(kept)
        if status != NOT_SERVING:
            return report(name, False, "the kept-open connection still "
                          "reports %s after SIGTERM" % status)
        # New connections until one is refused: each before that answers
        # NOT_SERVING and serves a call.
        served, refused_at = 0, None
        while time.monotonic() < t0 + 10:
            ch = channel(srv.target)
            try:
                st = health(ch, timeout=2)
                if st != NOT_SERVING:
                    return report(name, False, "a new connection's health "
                                  "is %s in the lame-duck period" % st)
                if unary(ch, "lame").text != "hello lame":
                    return report(name, False, "a wrong reply")
                served += 1
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    return report(name, False, "a new connection got %s (%s)"
                                  % (e.code().name, e.details()))
                refused_at = time.monotonic() - t0
                break
            finally:
                ch.close()
        if refused_at is None:
            return report(name, False, "new connections still served 10 s "
                          "after SIGTERM")
        if served == 0 or refused_at < 1.5:
            return report(name, False, "refused %.2f s after SIGTERM after "
                          "%d calls served; the period is 2 s"
                          % (refused_at, served))
        try:
            rep = long_call.result()
            long_ok = rep.text == "hello long"
        except grpc.RpcError as e:
            return report(name, False, "the call in flight ended %s (%s)" %
                          (e.code().name, e.details()))
        rc = srv.proc.wait(timeout=10)
        took = time.monotonic() - t0
        log = srv.log()
        report(name, long_ok and rc == 0 and "lame duck over" in log,
               "exit %d after %.1f s; %s" % (rc, took, log[-600:]))
        print("# %d new connections served during the lame-duck period, "
              "refused from %.2f s; exit after %.2f s" %
              (served, refused_at, took), flush=True)
    finally:
        kept.close()
        srv.finish(name)


def second_sigterm(args, workdir):
    name = "a second SIGTERM ends the lame-duck period"
    srv = Server(args, workdir, "second-sigterm",
                 ["--lame-duck-seconds", "60", "--drain-seconds", "5"])
    ch = channel(srv.target)
    try:
        srv.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        NOT_SERVING = P.health_pb.HealthCheckResponse.NOT_SERVING
        while health(ch) != NOT_SERVING:
            if time.monotonic() > t0 + 5:
                return report(name, False, "never NOT_SERVING")
        srv.p.wait_for([r"lame duck for 60000 ms"], 5)
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            return report(name, False, "still running 15 s later")
        report(name, rc == 0 and "draining now" in srv.log(),
               "exit %d; %s" % (rc, srv.log()[-400:]))
    finally:
        ch.close()
        srv.finish(name)


def max_age(args, workdir):
    name = "max connection age: calls go on across GOAWAYs"
    srv = Server(args, workdir, "max-age", ["--max-connection-age-ms", "400"])
    # As users have it: gRPC's client fails a call it was starting on a
    # connection just as the GOAWAY came, for a transparent retry.
    ch = channel(srv.target, retries=True)
    try:
        errors, calls = [], 0
        stop = time.monotonic() + 3

        def longer():
            n = 0
            while time.monotonic() < stop:
                try:
                    unary(ch, "slow%d" % n, sleep_ms=600)
                except grpc.RpcError as e:
                    errors.append("slow: %s %s" % (e.code().name, e.details()))
                n += 1
        t = threading.Thread(target=longer)
        t.start()
        while time.monotonic() < stop:
            try:
                if unary(ch, "c%d" % calls).text != "hello c%d" % calls:
                    errors.append("wrong reply")
            except grpc.RpcError as e:
                errors.append("%s %s" % (e.code().name, e.details()))
            calls += 1
        t.join()
        aged = srv.log().count("past the max connection age: GOAWAY")
        report(name, not errors and aged >= 3,
               "%d of %d calls failed (%s); %d connections aged out" %
               (len(errors), calls, "; ".join(errors[:3]), aged))
        print("# %d calls, %d connections aged out" % (calls, aged),
              flush=True)
    finally:
        ch.close()
        srv.finish(name)


def age_grace(args, workdir):
    name = "max connection age grace ends a longer call UNAVAILABLE"
    srv = Server(args, workdir, "age-grace",
                 ["--max-connection-age-ms", "300",
                  "--max-connection-age-grace-ms", "500"])
    ch = channel(srv.target)
    try:
        t0 = time.monotonic()
        try:
            unary(ch, "forever", sleep_ms=20000, timeout=30)
            return report(name, False, "the call completed")
        except grpc.RpcError as e:
            code, took = e.code(), time.monotonic() - t0
        ok = code == grpc.StatusCode.UNAVAILABLE and took < 5
        again = unary(ch, "again").text == "hello again"
        report(name, ok and again, "%s after %.1f s; the next call %s" %
               (code.name, took, "succeeded" if again else "failed"))
    finally:
        ch.close()
        srv.finish(name)


def keepalive(args, workdir):
    name = "keepalive: PINGs answered keep the connection, unanswered close it"
    srv = Server(args, workdir, "keepalive",
                 ["--keepalive-time-ms", "200", "--keepalive-timeout-ms",
                  "400"])
    try:
        good = b.Conn(srv.target, 5)
        mute = b.Conn(srv.target, 5, answer_pings=False)
        for c in (good, mute):
            c.pump(lambda: c.server_settings is not None, 5)
        # Both read in turn until the silent one is closed (or 5 s).
        end = time.monotonic() + 5
        while mute.closed is None and time.monotonic() < end:
            mute.pump(lambda: mute.closed is not None, 0.05)
            good.pump(lambda: False, 0.05)
        good.pump(lambda: False, 0.5)
        ok_good = good.closed is None and good.goaway is None and \
            good.pings_in >= 2
        ok_mute = mute.pings_in >= 1 and mute.closed is not None
        report(name, ok_good and ok_mute,
               "answering client: %d PINGs, %s; silent client: %d PINGs, %s"
               % (good.pings_in, good.describe(), mute.pings_in,
                  mute.describe()))
        good.close()
        mute.close()
    finally:
        srv.finish(name)


def ping_policy(args, workdir):
    srv = Server(args, workdir, "pings", [])
    try:
        name = "pings with no call open get GOAWAY ENHANCE_YOUR_CALM"
        c = b.Conn(srv.target, 5)
        c.pump(lambda: c.server_settings is not None, 5)
        for i in range(4):
            c.send(b.frame(b.PING, 0, 0, b"pingpong"))
            c.pump(lambda: c.ping_acks > i or c.goaway, 2)
        c.pump(lambda: c.goaway is not None, 2)
        ok = c.goaway is not None and c.goaway[1] == b.ENHANCE_YOUR_CALM \
            and c.goaway[2] == b"too_many_pings"
        report(name, ok, c.describe())
        c.close()

        name = "pings that follow the server's answers are never strikes"
        c = b.Conn(srv.target, 5)
        for i in range(8):
            st = c.unary(b.LOOP + "Unary", b.req(name="p%d" % i))
            c.pump(lambda: st.done, 5)
            c.send(b.frame(b.PING, 0, 0, b"pingpong"))
            c.pump(lambda: c.ping_acks > i or c.goaway, 2)
        report(name, c.goaway is None and c.ping_acks == 8, c.describe())
        c.close()
    finally:
        srv.finish("ping policy")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", metavar="BUILD_DIR")
    ap.add_argument("source", metavar="SOURCE_DIR")
    ap.add_argument("--only", help="comma-separated check names")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(args.source, "tests", "peers", "python"))
    import protos  # noqa: E402
    global P
    P = protos.load(argparse.Namespace(
        proto_path=None, proto="server_test.proto",
        health_proto=protos.DEFAULT_HEALTH_PROTO, protoc="protoc",
        grpc_python_plugin="/usr/bin/grpc_python_plugin"))
    checks = [lame_duck, second_sigterm, max_age, age_grace, keepalive,
              ping_policy]
    if args.only:
        checks = [c for c in checks if c.__name__ in args.only.split(",")]
    workdir = tempfile.mkdtemp(prefix="crpc-lifecycle-")
    for check in checks:
        try:
            check(args, workdir)
        except Exception as e:  # a server that did not start, a hang, ...
            report(check.__name__, False, "%s: %s" % (type(e).__name__, e))
    for f in os.listdir(workdir):
        os.unlink(os.path.join(workdir, f))
    os.rmdir(workdir)
    print("%d passed, %d failed" % (results.count(True),
                                    results.count(False)), flush=True)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
