#!/usr/bin/python3
"""gRPC's interop cases between crpc, Python grpcio and Node grpc-js.

Every interop client (crpc-interop-client, peers/python/interop_client.py,
peers/node/interop_client.js) runs every case against every interop server
(crpc-interop-server with worker and with loop placement, and the Python and
Node servers), plaintext and over TLS with a test CA made for the run. Each
server is started once per transport, must print its port, and must exit 0
on SIGTERM.

A server that cannot tell a compressed request from a plain one (grpcio's
Python servers) gets client_compressed_unary_noprobe instead of
client_compressed_unary, as gRPC Java's client does for such servers.

Prints one line per cell, each failed case as "not ok - CASE [CLIENT ->
SERVER, TRANSPORT]: REASON", a table of the results, and exits 0 when every
case passed in every cell. --markdown FILE also writes the table as Markdown
(docs/interop.md holds one).

Usage: run-matrix.py BUILD_DIR SOURCE_DIR [--clients a,b] [--servers a,b]
       [--transports plaintext,tls] [--markdown FILE]
"""
import argparse
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "peers", "python"))
import require  # noqa: E402

PYTHON = "/usr/bin/python3"
START_TIMEOUT = 30    # seconds for a server to print its port
STOP_TIMEOUT = 20     # seconds for a server to exit after SIGTERM
CLIENT_TIMEOUT = 180  # seconds for one client's run of every case
LOG_TAIL = 60         # lines of a server's log shown for a failed cell
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                       r"WARNING: ThreadSanitizer|runtime error:")
STANDARD = ["empty_unary", "large_unary", "client_compressed_unary",
            "server_compressed_unary", "client_streaming", "server_streaming",
            "ping_pong", "empty_stream", "status_code_and_message",
            "special_status_message", "unimplemented_method",
            "unimplemented_service", "cancel_after_begin",
            "cancel_after_first_response", "timeout_on_sleeping_server",
            "custom_metadata"]


class Peers:
    """The command lines of every client and server."""

    def __init__(self, build, src):
        interop = os.path.join(build, "tests", "interop")
        peers = os.path.join(src, "tests", "interop", "peers")
        stubs = os.path.join(interop, "python")
        self.servers = {
            "crpc": [os.path.join(interop, "crpc-interop-server"),
                     "--placement", "worker", "--log_level", "debug"],
            "crpc-loop": [os.path.join(interop, "crpc-interop-server"),
                          "--placement", "loop", "--log_level", "debug"],
            "grpcio": [PYTHON, os.path.join(peers, "python",
                                            "interop_server.py"),
                       "--stubs", stubs],
            "grpc-js": ["node", os.path.join(peers, "node",
                                             "interop_server.js")],
        }
        self.clients = {
            "crpc": [os.path.join(interop, "crpc-interop-client")],
            "grpcio": [PYTHON, os.path.join(peers, "python",
                                            "interop_client.py"),
                       "--stubs", stubs],
            "grpc-js": ["node", os.path.join(peers, "node",
                                             "interop_client.js")],
        }
        # Servers whose library hides whether a request was compressed.
        self.no_compression_check = {"grpcio"}

    def cases_for(self, server):
        if server not in self.no_compression_check:
            return list(STANDARD)
        return [c if c != "client_compressed_unary"
                else "client_compressed_unary_noprobe" for c in STANDARD]


class Server:
    """A server process for one transport."""

    def __init__(self, name, argv, tls, certs, log_dir):
        self.name = name
        cmd = argv + ["--port", "0"]
        if tls:
            cmd += ["--use_tls", "--tls_cert",
                    os.path.join(certs, "server.pem"), "--tls_key",
                    os.path.join(certs, "server.key")]
        self.log_path = os.path.join(
            log_dir, "%s-%s.log" % (name, "tls" if tls else "plaintext"))
        # Appending: the server shares the file's offset with output()'s
        # seek(0).
        self.log = open(self.log_path, "a+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True,
                                     start_new_session=True)
        self.port = None
        deadline = time.monotonic() + START_TIMEOUT
        line = ""
        while True:
            left = deadline - time.monotonic()
            # A server that prints nothing must not hold the run up.
            if left <= 0 or not select.select([self.proc.stdout], [], [],
                                              left)[0]:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(r"listening on \S+:(\d+) ", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.stop()
            raise RuntimeError("%s did not start: %s" % (name, self.output()))

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        """SIGTERM; returns the reason it failed to stop cleanly, or None."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return "did not exit within %d s of SIGTERM" % STOP_TIMEOUT
        self.proc.stdout.close()
        if rc != 0:
            return "exited %d after SIGTERM" % rc
        return None


def run_client(argv, port, tls, certs, cases):
    """Runs one client; returns ({case: (ok, reason)}, its output)."""
    cmd = argv + ["--server_host", "127.0.0.1", "--server_port", str(port),
                  "--test_case", ",".join(cases)]
    if tls:
        cmd += ["--use_tls", "--ca_file", os.path.join(certs, "ca.pem"),
                "--server_host_override", "localhost"]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=CLIENT_TIMEOUT)
        out = r.stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        out += "\n(killed after %d s)" % CLIENT_TIMEOUT
    results = {}
    for line in out.splitlines():
        m = re.match(r"(ok|not ok) - (\w+)(?::\s*(.*))?$", line)
        if m:
            results[m.group(2)] = (m.group(1) == "ok", m.group(3) or "")
    for c in cases:
        if c not in results:
            results[c] = (False, "the client printed no result for it")
    return results, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("source")
    ap.add_argument("--clients", default="crpc,grpcio,grpc-js")
    ap.add_argument("--servers", default="crpc,crpc-loop,grpcio,grpc-js")
    ap.add_argument("--transports", default="plaintext,tls")
    ap.add_argument("--markdown", metavar="FILE")
    args = ap.parse_args()
    used = set(args.clients.split(",")) | set(args.servers.split(","))
    if "grpc-js" in used:
        require.programs("node")
    build = os.path.abspath(args.build)
    src = os.path.abspath(args.source)
    peers = Peers(build, src)
    clients = args.clients.split(",")
    servers = args.servers.split(",")
    transports = args.transports.split(",")

    work = tempfile.mkdtemp(prefix="crpc-interop-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(src, "tests", "support",
                                 "make-test-certs.sh"), certs], check=True)

    # (client, server, transport) -> {case: (ok, reason)}
    cells = {}
    failed = 0
    for transport in transports:
        tls = transport == "tls"
        for sname in servers:
            try:
                server = Server(sname, peers.servers[sname], tls, certs, work)
            except RuntimeError as e:
                print("not ok - %s server (%s): %s" % (sname, transport, e))
                failed += 1
                continue
            for cname in clients:
                cases = peers.cases_for(sname)
                t0 = time.monotonic()
                results, out = run_client(peers.clients[cname], server.port,
                                          tls, certs, cases)
                ms = (time.monotonic() - t0) * 1000
                cells[(cname, sname, transport)] = results
                bad = [c for c in cases if not results[c][0]]
                failed += len(bad)
                print("%s %s -> %s (%s): %d of %d cases passed in %.0f ms" %
                      ("ok" if not bad else "not ok", cname, sname, transport,
                       len(cases) - len(bad), len(cases), ms))
                for c in bad:
                    print("  not ok - %s [%s -> %s, %s]: %s" %
                          (c, cname, sname, transport, results[c][1]))
                if bad or SANITIZER.search(out):
                    print("  --- %s's output ---" % cname)
                    print("  " + out.rstrip().replace("\n", "\n  "))
                if bad:
                    # What the server said meanwhile (crpc's servers log
                    # every connection and call at debug).
                    print("  --- %s's log, last %d lines ---" %
                          (sname, LOG_TAIL))
                    tail = server.output().rstrip().splitlines()[-LOG_TAIL:]
                    print("  " + "\n  ".join(tail))
                sys.stdout.flush()
            why = server.stop()
            log = server.output()
            if why or SANITIZER.search(log):
                failed += 1
                print("not ok - %s server (%s) %s" %
                      (sname, transport, why or "reported an error"))
                print("  --- %s's log ---\n  %s" %
                      (sname, log.rstrip().replace("\n", "\n  ")))
    table = render(cells, clients, servers, transports, peers)
    print()
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    print("%s: %d failed" % ("FAILED" if failed else "PASSED", failed))
    return 1 if failed else 0


def render(cells, clients, servers, transports, peers):
    """A Markdown table: one row per client and server, one column per
    transport, each cell "passed/total" and the cases that failed."""
    lines = ["| client | server | " + " | ".join(transports) + " |",
             "|---|---|" + "---|" * len(transports)]
    for c in clients:
        for s in servers:
            row = ["`%s`" % c, "`%s`" % s]
            for t in transports:
                r = cells.get((c, s, t))
                if r is None:
                    row.append("not run")
                    continue
                ok = sum(1 for v in r.values() if v[0])
                text = "%d/%d" % (ok, len(r))
                bad = sorted(k for k, v in r.items() if not v[0])
                if bad:
                    text += " (failed: %s)" % ", ".join(bad)
                if s in peers.no_compression_check:
                    text += " *"
                row.append(text)
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
