#!/usr/bin/python3
"""The interop cases through nginx's grpc_pass, in front of two crpc-servers.

Starts two crpc-server processes serving TestService (the interop module,
crpc_interop_module.so) and Debian's nginx as a reverse proxy balancing
over both: cleartext HTTP/2 and TLS (the test CA's certificate) towards
clients, cleartext HTTP/2 towards the servers. crpc-interop-client and the
Python grpcio client then run every case through nginx on both listeners,
and the server_id case shows their calls reached both crpc-server
instances.

Usage: run-nginx.py BUILD_DIR SOURCE_DIR
Exits 0 when everything passed; without nginx it says which package to install
and fails.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "peers", "python"))
import require  # noqa: E402

PYTHON = "/usr/bin/python3"
START_TIMEOUT = 30
STOP_TIMEOUT = 20
CLIENT_TIMEOUT = 180
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                       r"WARNING: ThreadSanitizer|runtime error:")
STANDARD = ("empty_unary,large_unary,client_compressed_unary,"
            "server_compressed_unary,client_streaming,server_streaming,"
            "ping_pong,empty_stream,status_code_and_message,"
            "special_status_message,unimplemented_method,"
            "unimplemented_service,cancel_after_begin,"
            "cancel_after_first_response,timeout_on_sleeping_server,"
            "custom_metadata")

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
  access_log {work}/access.log;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  # gRPC messages up to crpc's default limit, in either direction.
  client_max_body_size 0;
  upstream crpc_servers {{
    server 127.0.0.1:{port_a};
    server 127.0.0.1:{port_b};
    keepalive 4;
  }}
  server {{
    listen 127.0.0.1:{plain} http2;
    listen 127.0.0.1:{tls} ssl http2;
    ssl_certificate {certs}/server.pem;
    ssl_certificate_key {certs}/server.key;
    location / {{
      grpc_pass grpc://crpc_servers;
      grpc_read_timeout 60s;
      grpc_send_timeout 60s;
    }}
  }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_crpc_server(build, log_dir, name):
    # Appending (O_APPEND): the server shares this file's offset, which the
    # seek(0) below moves; it must not write over its first lines.
    log = open(os.path.join(log_dir, name + ".log"), "a+")
    proc = subprocess.Popen(
        [os.path.join(build, "server", "bin", "crpc-server"),
         "--listen", "127.0.0.1:0", "--module",
         os.path.join(build, "tests", "interop", "crpc_interop_module.so")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        log.seek(0)
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read())
        if m:
            return proc, log, int(m.group(1))
        time.sleep(0.05)
    log.seek(0)
    raise RuntimeError("crpc-server %s did not start: %s" % (name, log.read()))


def wait_listening(port):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc):
    """SIGTERM and wait; the reason it did not stop cleanly, or None."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "did not exit within %d s of SIGTERM" % STOP_TIMEOUT
    return None if rc == 0 else "exited %d after SIGTERM" % rc


def run(cmd):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=CLIENT_TIMEOUT)
        return r.returncode, r.stdout
    except subprocess.TimeoutExpired:
        return -1, "(killed after %d s)" % CLIENT_TIMEOUT


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, src = (os.path.abspath(a) for a in sys.argv[1:])
    require.programs("nginx")
    nginx = require.program_path("nginx")
    work = tempfile.mkdtemp(prefix="crpc-nginx-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(src, "tests", "support",
                                 "make-test-certs.sh"), certs], check=True)
    failures = []
    passed = 0
    procs = []
    try:
        a, log_a, port_a = start_crpc_server(build, work, "a")
        procs.append(("crpc-server a", a, log_a))
        b, log_b, port_b = start_crpc_server(build, work, "b")
        procs.append(("crpc-server b", b, log_b))
        ids = {"crpc-server-%d" % a.pid, "crpc-server-%d" % b.pid}
        plain, tls = free_port(), free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(work=work, certs=certs, plain=plain,
                                      tls=tls, port_a=port_a, port_b=port_b))
        nlog = open(os.path.join(work, "nginx.log"), "a+")
        ng = subprocess.Popen([nginx, "-p", work, "-c", conf],
                              stdout=nlog, stderr=subprocess.STDOUT,
                              start_new_session=True)
        procs.append(("nginx", ng, nlog))
        if not (wait_listening(plain) and wait_listening(tls)):
            raise RuntimeError("nginx did not start")
        print("nginx on 127.0.0.1:%d (h2c) and :%d (tls), in front of "
              "crpc-server pids %d (:%d) and %d (:%d)" %
              (plain, tls, a.pid, port_a, b.pid, port_b))

        stubs = os.path.join(build, "tests", "interop", "python")
        clients = {
            "crpc": [os.path.join(build, "tests", "interop",
                                  "crpc-interop-client")],
            "grpcio": [PYTHON, os.path.join(src, "tests", "interop", "peers",
                                            "python", "interop_client.py"),
                       "--stubs", stubs],
        }
        for cname, argv in clients.items():
            for transport, port in (("plaintext", plain), ("tls", tls)):
                cmd = argv + ["--server_host", "127.0.0.1", "--server_port",
                              str(port), "--test_case", STANDARD + ",server_id"]
                if transport == "tls":
                    cmd += ["--use_tls", "--ca_file",
                            os.path.join(certs, "ca.pem"),
                            "--server_host_override", "localhost"]
                rc, out = run(cmd)
                m = re.search(r"^ok - server_id: (.*)$", out, re.M)
                seen = dict(kv.split("=") for kv in m.group(1).split()) \
                    if m else {}
                cell = "%s -> nginx -> crpc-server (%s)" % (cname, transport)
                problems = [l for l in out.splitlines()
                            if l.startswith("not ok")]
                if rc != 0 and not problems:
                    problems.append("the client exited %d" % rc)
                if set(seen) != ids:
                    problems.append("server_id: calls reached %s, expected "
                                    "both of %s" % (sorted(seen) or "none",
                                                    sorted(ids)))
                if SANITIZER.search(out):
                    problems.append("a sanitizer report")
                if problems:
                    failures.append(cell)
                    print("not ok - %s" % cell)
                    for p in problems:
                        print("  %s" % p)
                    print("  --- output ---\n  " +
                          out.rstrip().replace("\n", "\n  "))
                else:
                    passed += 1
                    print("ok - %s: 16 cases passed; 10 calls split %s" %
                          (cell, " ".join("%s=%s" % kv
                                          for kv in sorted(seen.items()))))
                sys.stdout.flush()
    except (RuntimeError, OSError) as e:
        failures.append(str(e))
        print("not ok - %s" % e)
    finally:
        for name, proc, log in reversed(procs):
            why = stop(proc)
            log.seek(0)
            text = log.read()
            if why or SANITIZER.search(text):
                failures.append(name)
                print("not ok - %s %s\n  %s" %
                      (name, why or "reported an error",
                       text.rstrip().replace("\n", "\n  ")))
    shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
