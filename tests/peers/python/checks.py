"""What the process-level server checks (tests/server/pressure.py,
observe.py) share: their command line, the stubs of the test services, and
running named checks with one "ok"/"not ok" line each."""
import argparse
import faulthandler
import os
import re
import signal
import sys
import tempfile
import time

import procs
import protos

# A crash in the peer's own native code (grpcio's core) shows every
# thread's Python stack, so that the run's log says where it was.
faulthandler.enable()

START_TIMEOUT_S = 60
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|"
                              r"WARNING: ThreadSanitizer|runtime error:")


class Server:
    """crpc-server on a free loopback port with |modules| (each a path, or
    a list: the path and its --module-arg flags) and |flags|; its stdout
    and stderr go to NAME.log in |tmp|."""

    def __init__(self, args, tmp, name, modules, flags=()):
        cmd = [os.path.join(args.build, "server/bin/crpc-server"),
               "--listen", "127.0.0.1:0"] + list(flags)
        for m in modules:
            m = [m] if isinstance(m, str) else m
            cmd += ["--module", m[0]] + list(m[1:])
        self.proc = procs.LoggedProcess(cmd, os.path.join(tmp, name + ".log"))
        m, = self.proc.wait_for([r"listening on 127\.0\.0\.1:(\d+) \(h2c\)"],
                                START_TIMEOUT_S)
        self.port = int(m.group(1))
        self.target = "127.0.0.1:%d" % self.port

    def log(self):
        return self.proc.read_log()

    def wait_log(self, pattern, count, timeout_s=10):
        """Waits (at most |timeout_s|) until |pattern| matches |count| lines
        of the log; returns the matches found."""
        end = time.monotonic() + timeout_s
        while True:
            found = [m for m in (re.search(pattern, line)
                                 for line in self.log().splitlines()) if m]
            if len(found) >= count or time.monotonic() > end:
                return found
            time.sleep(0.05)

    def stop(self):
        """SIGTERM; returns the exit status (or "timeout", and then it is
        killed)."""
        if self.proc.proc.poll() is None:
            self.proc.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.proc.wait(timeout=30)
            except Exception:  # noqa: BLE001 - reported by the caller
                self.proc.kill()
                return "timeout"
        return self.proc.proc.returncode


def parse_args(doc):
    """BUILD_DIR SOURCE_DIR [--only NAME[,NAME...]], with BUILD_DIR made
    absolute."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("build", metavar="BUILD_DIR")
    ap.add_argument("source", metavar="SOURCE_DIR")
    ap.add_argument("--only", metavar="NAMES")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    return args


def load_protos(source):
    """The stubs of crpc.servertest (as `pb`, `grpc`) and of
    crpc.composetest.Compose (as `compose_pb`, `compose_grpc`)."""
    p = protos.load(argparse.Namespace(
        proto_path=None, proto="server_test.proto",
        health_proto=protos.DEFAULT_HEALTH_PROTO, protoc="protoc",
        grpc_python_plugin="/usr/bin/grpc_python_plugin"))
    compose = protos.load(argparse.Namespace(
        proto_path=[os.path.join(source, "tests", "client", "proto"),
                    os.path.join(source, "proto")],
        proto="compose.proto", health_proto=protos.DEFAULT_HEALTH_PROTO,
        protoc="protoc", grpc_python_plugin="/usr/bin/grpc_python_plugin"))
    p.compose_pb, p.compose_grpc = compose.pb, compose.grpc
    return p


def run(checks, only, prefix, show_logs="always"):
    """Runs each (name, fn(tmp)) of |checks| named in |only| (a comma list;
    None: all): fn returns a note, or raises to fail. Prints "ok - NAME #
    note" or "not ok - NAME: reason", then the logs left in the temporary
    directory (show_logs "always", or "failed" when a check failed; a log
    holding a sanitizer's report always), and "N passed, M failed".
    Returns the exit status."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    wanted = set(only.split(",")) if only else None
    passed = failed = 0
    for name, fn in checks:
        if wanted and name not in wanted:
            continue
        try:
            note = fn(tmp)
            print("ok - %s # %s" % (name, note), flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - a failed check, reported
            print("not ok - %s: %s" % (name, e), flush=True)
            failed += 1
    for f in sorted(os.listdir(tmp)):
        path = os.path.join(tmp, f)
        with open(path, errors="replace") as fh:
            text = fh.read()
        # A sanitizer's report is always shown, for ctest to see.
        if show_logs == "always" or failed or SANITIZER_REPORT.search(text):
            sys.stderr.write("--- %s ---\n%s" % (f, text))
        os.unlink(path)
    os.rmdir(tmp)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
