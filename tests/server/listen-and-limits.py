#!/usr/bin/python3
"""crpc-server's listen address kinds and connection limits, with grpcio.

Starts one crpc-server listening on IPv4, IPv6 and a unix socket, with one
worker, a worker queue of one and a short handshake timeout, and checks:
- a call reaches the server through each of the three addresses;
- with the worker busy and the queue full, a further worker call gets
  RESOURCE_EXHAUSTED at once while a coroutine call still succeeds;
- a connection that never sends the HTTP/2 preface is closed after the
  handshake timeout, and one that sent it is not;
- SIGTERM shuts the server down with exit status 0.

Usage: listen-and-limits.py BUILD_DIR SOURCE_DIR
Prints "ok - NAME" or "not ok - NAME: reason" per check and then
"N passed, M failed"; exits 1 if a check failed.
"""
import argparse
import os
import re
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc")
import grpc  # noqa: E402

HANDSHAKE_TIMEOUT_MS = 500
START_TIMEOUT_S = 30


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", metavar="BUILD_DIR")
    ap.add_argument("source", metavar="SOURCE_DIR")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(args.source, "tests", "peers", "python"))
    import procs  # noqa: E402
    import protos  # noqa: E402

    p = protos.load(argparse.Namespace(
        proto_path=None, proto="server_test.proto",
        health_proto=protos.DEFAULT_HEALTH_PROTO, protoc="protoc",
        grpc_python_plugin="/usr/bin/grpc_python_plugin"))

    tmp = tempfile.mkdtemp(prefix="crpc-limits-")
    sock_path = os.path.join(tmp, "s.sock")
    cmd = [os.path.join(args.build, "server/bin/crpc-server"),
           "--module", os.path.join(args.build,
                                    "tests/server/crpc_server_test_module.so"),
           "--listen", "127.0.0.1:0", "--listen", "[::1]:0",
           "--listen", "unix:" + sock_path,
           "--loops", "2", "--workers", "1", "--worker-queue", "1",
           "--handshake-timeout-ms", str(HANDSHAKE_TIMEOUT_MS),
           "--drain-seconds", "5"]
    server = procs.LoggedProcess(cmd, os.path.join(tmp, "server.log"))
    proc = server.proc
    results = []

    def record(name, fn):
        try:
            note = fn()
            results.append(True)
            print("ok - %s%s" % (name, " # " + note if note else ""), flush=True)
        except Exception as e:  # noqa: BLE001 - a failed check, reported
            results.append(False)
            print("not ok - %s: %s" % (name, e), flush=True)

    try:
        v4, v6, _ = server.wait_for(
            [r"listening on 127\.0\.0\.1:(\d+) \(h2c\)",
             r"listening on \[::1\]:(\d+) \(h2c\)",
             re.escape("listening on unix:%s (h2c)" % sock_path)],
            START_TIMEOUT_S)
        port4, port6 = int(v4.group(1)), int(v6.group(1))
        targets = {"ipv4": "127.0.0.1:%d" % port4,
                   "ipv6": "ipv6:[::1]:%d" % port6,
                   "unix": "unix:" + sock_path}
        channels = {k: grpc.insecure_channel(
            t, options=[("grpc.use_local_subchannel_pool", 1),
                        ("grpc.enable_retries", 0)])
            for k, t in targets.items()}

        def stub(kind, svc):
            return getattr(p.grpc, svc + "Stub")(channels[kind])

        for kind in ("ipv4", "ipv6", "unix"):
            def call(kind=kind):
                rep = stub(kind, "WorkerTest").Unary(p.pb.Req(name=kind),
                                                     timeout=10)
                if rep.text != "hello " + kind:
                    raise AssertionError("reply %r" % rep.text)
            record("unary over %s (%s)" % (kind, targets[kind]), call)

        def queue_full():
            # One call runs on the only worker, one waits in the queue of
            # one; the next is refused at once.
            busy = [stub("ipv4", "WorkerTest").Unary.future(
                p.pb.Req(name="busy", spin=True, sleep_ms=1500), timeout=20)
                for _ in range(2)]
            time.sleep(0.3)
            t0 = time.monotonic()
            try:
                stub("ipv4", "WorkerTest").Unary(p.pb.Req(name="x"), timeout=10)
                raise AssertionError("a third worker call was accepted")
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise AssertionError("got %s: %s" % (e.code(), e.details()))
                refused_in = time.monotonic() - t0
                detail = e.details()
            rep = stub("ipv4", "LoopTest").Unary(p.pb.Req(name="loop"), timeout=10)
            if rep.placement != "loop":
                raise AssertionError("loop call ran on %r" % rep.placement)
            for f in busy:
                f.result()
            return "refused in %.0f ms: %s" % (refused_in * 1000, detail)
        record("worker queue full gives RESOURCE_EXHAUSTED", queue_full)

        def silent_closed():
            s = socket.create_connection(("127.0.0.1", port4), timeout=10)
            t0 = time.monotonic()
            s.settimeout(HANDSHAKE_TIMEOUT_MS / 1000 * 6)
            try:
                data = s.recv(65536)  # the server's SETTINGS may come first
                while data:
                    data = s.recv(65536)
            except ConnectionResetError:
                pass
            except socket.timeout:
                raise AssertionError("still open after %.1f s"
                                     % (time.monotonic() - t0))
            finally:
                s.close()
            took = time.monotonic() - t0
            if took < HANDSHAKE_TIMEOUT_MS / 1000 * 0.9:
                raise AssertionError("closed too early, after %.2f s" % took)
            return "closed after %.2f s" % took
        record("silent connection closed after the handshake timeout",
               silent_closed)

        def active_kept():
            time.sleep(HANDSHAKE_TIMEOUT_MS / 1000 * 3)
            rep = stub("ipv4", "LoopTest").Unary(p.pb.Req(name="later"),
                                                 timeout=10)
            if rep.text != "hello later":
                raise AssertionError("reply %r" % rep.text)
        record("established connection outlives the handshake timeout",
               active_kept)

        for ch in channels.values():
            ch.close()

        def sigterm():
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
            if rc != 0:
                raise AssertionError("exit status %d" % rc)
        record("SIGTERM exits 0", sigterm)
    finally:
        server.kill()
        sys.stderr.write("--- crpc-server log ---\n" + server.read_log())
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)

    failed = results.count(False)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
