#!/usr/bin/python3
"""The client's fault, composition, bad-input and DNS tests.

Runs each scenario of fault_suite.c (and dns_suite.c): starts the servers it
needs (crpc-server with tests/server's test module and compose_module.so,
garbage_server.py), runs client_fault_suite with FAULT_TEST naming the test
and FAULT_* variables saying where the servers are, and acts on the servers
when the test asks through its FAULT_CTL directory (kill, restart, SIGTERM,
start). After each scenario every crpc-server still running gets SIGTERM and
must exit 0; their logs are printed, so that a sanitizer build's reports
reach the test output.

The dns group runs client_dns_suite in a mount namespace of its own
(unshare(1)) whose /etc/hosts is a file of the scenario's, which the suite
rewrites to move a name between servers on 127.0.0.2, .3 and .4. Without
a way to make that namespace the group fails, saying why.

With --grpcio it instead proves garbage_server.py with Python grpcio: each
misbehaviour gives grpcio the failure it should, retries and GOAWAY
included.

Usage: run-fault-tests.py BUILD_DIR SOURCE_DIR [--group faults|compose|dns]
                          [--only TEST] [--grpcio]
Prints "ok - NAME" or "not ok - NAME: reason" per scenario and "N passed,
M failed"; exits 1 if a scenario failed.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "peers", "python"))
import procs  # noqa: E402
import require  # noqa: E402

START_TIMEOUT_S = 60
SCENARIO_TIMEOUT_S = 200
EXIT_TIMEOUT_S = 30
PYTHON = "/usr/bin/python3"


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Servers:
    """The processes of one scenario, their logs kept in |tmp|."""

    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.all = []  # (label, LoggedProcess), in start order
        self.problems = []

    def _log_path(self, label):
        return os.path.join(self.tmp, "%s-%d.log" % (label, len(self.all)))

    def crpc_server(self, label, port=0, compose=False, loops=1, workers=2,
                    host="127.0.0.1"):
        b = self.args.build
        cmd = [os.path.join(b, "server/bin/crpc-server"),
               "--listen", "%s:%d" % (host, port),
               "--module", os.path.join(b, "tests/server/crpc_server_test_module.so"),
               "--loops", str(loops), "--workers", str(workers),
               "--drain-seconds", "10"]
        if compose:
            cmd += ["--module",
                    os.path.join(b, "tests/client/crpc_client_compose_module.so")]
        p = procs.LoggedProcess(cmd, self._log_path(label))
        self.all.append((label, p))
        (m,) = p.wait_for([r"listening on %s:(\d+)" % re.escape(host)],
                          START_TIMEOUT_S)
        p.port = int(m.group(1))
        p.label = label
        return p

    def garbage_server(self):
        cmd = [PYTHON, "-u", os.path.join(HERE, "garbage_server.py")]
        p = procs.LoggedProcess(cmd, self._log_path("garbage"))
        self.all.append(("garbage", p))
        m1, m2 = p.wait_for([r"listening on 127\.0\.0\.1:(\d+) \(h2c\)",
                             r"listening on 127\.0\.0\.1:(\d+) \(garbage\)"],
                            START_TIMEOUT_S)
        p.port, p.http1_port = int(m1.group(1)), int(m2.group(1))
        p.label = "garbage"
        return p

    def kill(self, p):
        p.proc.kill()
        p.proc.wait()
        p.killed = True

    def stop_all(self):
        """SIGTERM to every server still running; a crpc-server must exit 0
        (after its drain and its sanitizer's exit checks)."""
        for label, p in self.all:
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for label, p in self.all:
            try:
                rc = p.proc.wait(EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.problems.append("%s did not exit after SIGTERM" % label)
                p.proc.kill()
                rc = p.proc.wait()
            if (label != "garbage" and rc != 0 and
                    not getattr(p, "killed", False)):
                self.problems.append("%s exited with status %d" % (label, rc))
            p.log.close()

    def print_logs(self):
        for label, p in self.all:
            text = p.read_log()
            print("--- log of %s (%s) ---" % (label, " ".join(
                os.path.basename(a) for a in p.cmd[:1])))
            sys.stdout.write(text if text.endswith("\n") or not text
                             else text + "\n")
        sys.stdout.flush()


def run_suite(args, test, env, actions, suite="fault", wrap=()):
    """Runs |test| of |suite|_suite.c with |env|, answering its requests
    with |actions| (verb -> function returning the answer); |wrap| goes
    before the suite's command. Returns None or the reason it failed."""
    ctl = tempfile.mkdtemp(prefix="crpc-fault-ctl-")
    e = dict(os.environ)
    e.update(env)
    e["FAULT_TEST"] = test
    e["FAULT_CTL"] = ctl
    path = os.path.join(args.build, "tests/client/client_%s_suite" % suite)
    group = "faults" if suite == "fault" else suite
    sys.stdout.flush()
    p = subprocess.Popen(procs.dying_with_parent(
        list(wrap) + [path, "--filter=%s/%s" % (group, test)]), env=e)
    handled = set()
    end = time.monotonic() + SCENARIO_TIMEOUT_S
    why = None
    try:
        while p.poll() is None:
            for verb in sorted(os.listdir(ctl)):
                if verb.startswith(".") or verb.endswith(".done") or \
                        verb.endswith(".tmp") or verb in handled:
                    continue
                handled.add(verb)
                if verb not in actions:
                    why = "the test asked for an unknown action '%s'" % verb
                    answer = ""
                else:
                    answer = str(actions[verb]())
                tmp = os.path.join(ctl, verb + ".tmp")
                with open(tmp, "w") as f:
                    f.write(answer)
                os.rename(tmp, os.path.join(ctl, verb + ".done"))
            if time.monotonic() > end:
                p.kill()
                p.wait()
                return "no result within %d s" % SCENARIO_TIMEOUT_S
            time.sleep(0.02)
        ran = os.path.exists(os.path.join(ctl, ".ran"))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(ctl, True)
    if p.returncode != 0:
        return why or "the suite exited with status %d" % p.returncode
    if not ran:
        return "the suite has no test named %s" % test
    return why


def target(p):
    return "127.0.0.1:%d" % p.port


# Scenarios: each starts its servers, runs its test and checks what the
# servers did. They return None or the reason they failed.

def killed_mid_call(args, s):
    port = free_port()
    box = {"a": s.crpc_server("a", port)}

    def restart():
        box["a"] = s.crpc_server("a-restarted", port)
        return box["a"].proc.pid
    return run_suite(args, "killed_mid_call", {"FAULT_TARGET": "127.0.0.1:%d" % port},
                     {"kill": lambda: s.kill(box["a"]), "restart": restart})


def goaway_drain(args, s):
    a = s.crpc_server("a")
    why = run_suite(args, "goaway_drain", {"FAULT_TARGET": target(a)},
                    {"term": lambda: a.proc.send_signal(signal.SIGTERM)})
    try:
        rc = a.proc.wait(EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return why or "the server did not exit after SIGTERM"
    if rc != 0 and why is None:
        why = "the draining server exited with status %d" % rc
    return why


def lb_env(a, b):
    return {"FAULT_TARGETS": "ipv4:127.0.0.1:%d,127.0.0.1:%d" % (a.port, b.port),
            "FAULT_PID_A": str(a.proc.pid), "FAULT_PID_B": str(b.proc.pid)}


def lb_split(args, s):
    a = s.crpc_server("a", compose=True)
    b = s.crpc_server("b", compose=True)
    return run_suite(args, "lb_split", lb_env(a, b), {})


def lb_failover(args, s):
    a = s.crpc_server("a", compose=True)
    b = s.crpc_server("b", compose=True)
    port_b = b.port

    def restart_b():
        return s.crpc_server("b-restarted", port_b, compose=True).proc.pid
    return run_suite(args, "lb_failover", lb_env(a, b),
                     {"kill-b": lambda: s.kill(b), "restart-b": restart_b})


def refused(args, s):
    return run_suite(args, "refused",
                     {"FAULT_DOWN": "127.0.0.1:%d" % free_port()}, {})


def refused_then_started(args, s):
    port = free_port()
    return run_suite(args, "refused_then_started",
                     {"FAULT_DOWN": "127.0.0.1:%d" % port},
                     {"start": lambda: s.crpc_server("late", port).proc.pid})


def garbage_test(name):
    def scenario(args, s):
        g = s.garbage_server()
        return run_suite(args, name, {
            "FAULT_GARBAGE": target(g),
            "FAULT_GARBAGE_HTTP1": "127.0.0.1:%d" % g.http1_port}, {})
    scenario.__name__ = name
    return scenario


def compose_test(name):
    def scenario(args, s):
        c = s.crpc_server("compose", compose=True, loops=1, workers=2)
        d = s.crpc_server("downstream", loops=2, workers=4)
        return run_suite(args, name, {"FAULT_COMPOSE": target(c),
                                      "FAULT_DOWNSTREAM": target(d)}, {})
    scenario.__name__ = name
    return scenario


# The dns group: a name that moves between servers.

DNS_NAME = "svc.crpc.test"

# ctest's code for a test that could not run here (SKIP_RETURN_CODE).
CANNOT_RUN = 77


class CannotRun(Exception):
    """The machine cannot give the test what it needs: a chroot, where
    neither a user namespace nor a mount namespace of its own can be
    made. Anywhere else a namespace that cannot be made is a failure."""


def dns_wrap(tmp):
    """The command that runs a suite in a mount namespace of its own with
    tmp/hosts as its /etc/hosts and an nsswitch.conf that looks names up in
    that file alone (no query leaves the machine); returns it and the hosts
    file's path. The namespace is a user namespace's, or, as root (in a
    chroot, where user namespaces are refused), one without. Raises
    RuntimeError when neither can be made."""
    require.programs("unshare", "mount")
    hosts = os.path.join(tmp, "hosts")
    nss = os.path.join(tmp, "nsswitch.conf")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n")
    with open(nss, "w") as f:
        f.write("hosts: files\n")
    script = ('mount --bind "$0" /etc/hosts && '
              'mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"')
    tried = [["unshare", "--user", "--map-root-user", "--mount"]]
    if os.geteuid() == 0:
        tried.append(["unshare", "--mount"])
    why = []
    for cmd in tried:
        wrap = cmd + ["sh", "-c", script, hosts, nss]
        r = subprocess.run(wrap + ["true"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode == 0:
            print("# mount namespace: %s" % " ".join(cmd))
            return wrap, hosts
        why.append("'%s' failed: %s" % (
            " ".join(cmd), r.stdout.decode(errors="replace").strip()))
    chroot = False
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        if "/" not in points:
            chroot = True
            why.append("/ is not a mount point: a chroot, where the kernel "
                       "refuses user namespaces too")
    except (OSError, IndexError):
        pass
    text = ("THE DNS TESTS CANNOT RUN: they need a mount namespace of their "
            "own, from a user namespace or as root: " + "; ".join(why))
    raise CannotRun(text) if chroot else RuntimeError(text)


def dns_test(name, servers):
    def scenario(args, s):
        wrap, hosts = dns_wrap(s.tmp)
        env = {"DNS_HOSTS": hosts, "DNS_NAME": DNS_NAME}
        port = 0
        box = {}
        for label, host in zip(servers, ["127.0.0.2", "127.0.0.3",
                                         "127.0.0.4"]):
            p = s.crpc_server(label, port, compose=True, host=host)
            port = p.port
            box[label] = p
            env["DNS_ADDR_" + label] = host
            env["FAULT_PID_" + label] = str(p.proc.pid)
        env["DNS_PORT"] = str(port)

        def kill(labels):
            for label in labels:
                s.kill(box[label])
            return ""
        return run_suite(args, name, env,
                         {"kill-ab": lambda: kill("AB"),
                          "kill-c": lambda: kill("C")},
                         suite="dns", wrap=wrap)
    scenario.__name__ = "dns_" + name
    return scenario


SCENARIOS = {
    "faults": [killed_mid_call, goaway_drain, garbage_test("goaway_retry"),
               lb_split, lb_failover, refused, refused_then_started,
               garbage_test("retries"), garbage_test("bad_garbage"),
               garbage_test("bad_truncated"), garbage_test("bad_oversize"),
               garbage_test("bad_hugeheaders"),
               garbage_test("bad_gzipbomb"), garbage_test("bad_hugelength"),
               garbage_test("bad_pingflood"),
               garbage_test("bad_notrailers"), garbage_test("bad_nostatus"),
               garbage_test("bad_http1")],
    "compose": [compose_test("compose_fan_out"),
                compose_test("compose_worker_pool"),
                compose_test("compose_deadline")],
    "dns": [dns_test("pick_first", "AB"), dns_test("round_robin", "AB"),
            dns_test("all_failed", "ABC")],
}


def run_scenarios(args):
    groups = [args.group] if args.group else sorted(SCENARIOS)
    passed = failed = 0
    args.cannot_run = 0
    for g in groups:
        for sc in SCENARIOS[g]:
            if args.only and sc.__name__ != args.only:
                continue
            tmp = tempfile.mkdtemp(prefix="crpc-fault-")
            s = Servers(args, tmp)
            print("# %s" % sc.__name__)
            t0 = time.monotonic()
            try:
                why = sc(args, s)
            except CannotRun as e:
                shutil.rmtree(tmp, True)
                print("# %s: %s" % (sc.__name__, e))
                args.cannot_run += 1
                continue
            except (RuntimeError, OSError) as e:
                why = str(e)
            finally:
                s.stop_all()
            if why is None and s.problems:
                why = "; ".join(s.problems)
            s.print_logs()
            shutil.rmtree(tmp, True)
            if why is None:
                passed += 1
                print("ok - %s (%.1f s)" % (sc.__name__, time.monotonic() - t0))
            else:
                failed += 1
                print("not ok - %s: %s" % (sc.__name__, why))
            sys.stdout.flush()
    return passed, failed


# --grpcio: garbage_server.py against grpcio's client.

Reply = collections.namedtuple("Reply", "text count")


def grpcio_checks(args):
    require.modules("grpc")
    import grpc
    import protos
    pa = argparse.ArgumentParser()
    protos.add_arguments(pa)
    ns = protos.load(pa.parse_args([]))
    tmp = tempfile.mkdtemp(prefix="crpc-fault-")
    s = Servers(args, tmp)
    g = s.garbage_server()
    results = []

    def check(name, cond, detail):
        results.append(cond)
        print("%s - grpcio %s: %s" % ("ok" if cond else "not ok", name, detail))

    def call(port, md, name="x", options=(("grpc.enable_retries", 0),)):
        ch = grpc.insecure_channel("127.0.0.1:%d" % port, options=list(options))
        try:
            r = ns.grpc.LoopTestStub(ch).Unary(ns.pb.Req(name=name), timeout=8,
                                               metadata=md)
            return "OK", r and Reply(r.text, r.count)
        except grpc.RpcError as e:
            return e.code().name, e.details()
        finally:
            ch.close()

    try:
        code, r = call(g.port, [])
        check("ok", code == "OK" and r.text == "hello x", (code, r))
        for mode, want in [("garbage", None), ("oversize", "RESOURCE_EXHAUSTED"),
                           ("notrailers", None), ("nostatus", None)]:
            code, r = call(g.port, [("x-garbage-mode", mode)])
            good = code != "OK" if want is None else code == want
            check(mode, good, (code, r))
        # grpcio reports OK with no message for a truncated one.
        code, r = call(g.port, [("x-garbage-mode", "truncated")])
        check("truncated", r is None or code != "OK", (code, r))
        code, r = call(g.http1_port, [])
        check("http1", code == "UNAVAILABLE", (code, r))
        md = [("x-garbage-mode", "unavailable"), ("x-garbage-key", "k")]
        code, r = call(g.port, md)
        check("unavailable first", code == "UNAVAILABLE" and
              r == "attempt 1 of key k", (code, r))
        code, r = call(g.port, md)
        check("unavailable then ok", code == "OK" and r.count == 2, (code, r))
        retry = ('{"methodConfig": [{"name": [{"service": '
                 '"crpc.servertest.LoopTest"}], "retryPolicy": {'
                 '"maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": '
                 '"1s", "backoffMultiplier": 1.6, "retryableStatusCodes": '
                 '["UNAVAILABLE"]}}]}')
        code, r = call(g.port, [("x-garbage-mode", "unavailable"),
                                ("x-garbage-key", "k2"),
                                ("x-garbage-fail-times", "2")], options=[
                       ("grpc.enable_retries", 1),
                       ("grpc.service_config", retry)])
        check("retried", code == "OK" and r.count == 3, (code, r))
        ch = grpc.insecure_channel("127.0.0.1:%d" % g.port)
        stub = ns.grpc.LoopTestStub(ch)
        md = [("x-garbage-mode", "goaway"), ("x-garbage-key", "g"),
              ("x-garbage-hold", "6")]
        fs = [stub.Unary.future(ns.pb.Req(name="g%d" % i), timeout=15,
                                metadata=md) for i in range(6)]
        conns = []
        for f in fs:
            try:
                conns.append(f.result().count)
            except grpc.RpcError as e:
                conns.append(e.code().name)
        ch.close()
        ints = [c for c in conns if isinstance(c, int)]
        check("goaway", len(ints) == 6 and conns.count(min(ints)) == 3,
              "connections %s" % conns)
    finally:
        s.stop_all()
        s.print_logs()
        shutil.rmtree(tmp, True)
    return results.count(True), results.count(False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("source")
    ap.add_argument("--group", choices=sorted(SCENARIOS))
    ap.add_argument("--only", metavar="TEST")
    ap.add_argument("--grpcio", action="store_true")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    require.modules("h2")  # garbage_server.py's
    if args.grpcio:
        passed, failed = grpcio_checks(args)
    else:
        passed, failed = run_scenarios(args)
    print("%d passed, %d failed" % (passed, failed))
    if not failed and getattr(args, "cannot_run", 0):
        print("%d could not run on this machine (see above)" % args.cannot_run)
        return CANNOT_RUN
    if passed + failed == 0:
        print("no scenario ran")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
