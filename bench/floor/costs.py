#!/usr/bin/python3
"""What a unary call costs crpc's server beyond HTTP/2, counted, not timed.

Runs crpc's bench server (--placement loop) and the HTTP/2 floor
(crpc-bench-h2floor, the other side of make bench's "crpc vs HTTP/2
floor" row) each under valgrind's callgrind, while h2load sends them the
same unary calls as that row (-c 16 -m 32, an empty SimpleRequest), and
prints per call, for both and their ratio:

  instructions       by library, then crpc's largest functions (self)
  L1 misses          instruction fetches, data reads and data writes that
                     callgrind's cache model (this machine's L1 sizes)
                     misses
  hot code           the 64-byte lines of code run on at least 9 calls in
                     10, by library: the code every call goes through, to
                     set against the L1 instruction cache (32 KiB on most
                     x86-64 CPUs)

A timed row moves with whatever else the machine runs; these counts do
not, so a change to the server's path shows here even when make bench
cannot tell it from noise. They are not times: a miss costs more than an
instruction, and the kernel's share (the same sockets either way) is not
counted. The first calls (a warm-up) are left out.

Usage: costs.py BUILD_DIR [--calls N] [--top K]
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "peers", "python"))
import require  # noqa: E402
from run import Server, grpc_body  # noqa: E402

WARMUP_CALLS = 2000
EVENTS = ("Ir", "I1mr", "D1mr", "D1mw")
HOT_SHARE = 0.9
LINE = 64


def h2load(port, body, calls):
    out = subprocess.run(
        ["h2load", "-n", str(calls), "-c", "16", "-m", "32", "-t", "1",
         "-H", "content-type: application/grpc", "-H", "te: trailers",
         "-d", body,
         "http://127.0.0.1:%d/grpc.testing.BenchmarkService/UnaryCall" % port],
        capture_output=True, text=True, timeout=600).stdout
    m = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    if not m or int(m.group(1)) != calls:
        raise RuntimeError("h2load failed: %s" % out[-800:])


def control(pid, what):
    subprocess.run(["callgrind_control", what, str(pid)], check=True,
                   capture_output=True, timeout=60)


def measure(argv, body, calls, work, name):
    """Runs |argv| under callgrind through the warm-up and |calls| calls:
    the path of the profile of those calls alone."""
    out = os.path.join(work, name + ".out")
    srv = Server(["valgrind", "--tool=callgrind", "--cache-sim=yes",
                  "--dump-instr=yes", "--callgrind-out-file=" + out] + argv,
                 False)
    try:
        h2load(srv.port, body, WARMUP_CALLS)
        control(srv.proc.pid, "-z")
        h2load(srv.port, body, calls)
        control(srv.proc.pid, "-d")
    finally:
        srv.stop()
    # The dump is written by the time callgrind_control returns; the final
    # one, at exit, is not wanted.
    deadline = time.monotonic() + 30
    while not os.path.exists(out + ".1") and time.monotonic() < deadline:
        time.sleep(0.1)
    return out + ".1"


def parse(path):
    """Per code address: {(object, address): [count per event]} and the
    function of each address."""
    names = {}
    cost = collections.defaultdict(lambda: [0] * len(EVENTS))
    func = {}
    events = None
    ob = fn = fl = None
    addr = 0
    after_calls = False
    spec = re.compile(r"(c?ob|c?fn|f[lie]|cf[il])=\((\d+)\)(?: (.*))?$")
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            m = spec.match(line)
            if m:
                kind, ident, name = m.groups()
                kind = kind.lstrip("c")[:2]
                if kind in ("fi", "fe"):  # one table of file names
                    kind = "fl"
                if name is not None:
                    names[(kind, ident)] = name
                if m.group(1) == "ob":
                    ob = names[("ob", ident)]
                elif m.group(1) == "fl":
                    fl = names[("fl", ident)]
                elif m.group(1) == "fn":
                    # Static functions share names: the file tells them
                    # apart.
                    fn = "%s:%s" % (os.path.basename(fl or "?"),
                                    names[("fn", ident)])
                continue
            if line.startswith("calls="):
                after_calls = True
                continue
            if line[0] not in "0123456789+-*":
                continue
            toks = line.split()
            pos = toks[0]
            if pos == "*":
                a = addr
            elif pos[0] in "+-":
                a = addr + int(pos, 0)
            else:
                a = int(pos, 0)
            addr = a
            if after_calls:  # the inclusive cost of a call: not this code's
                after_calls = False
                continue
            counts = [int(x) for x in toks[2:]]
            row = cost[(ob, a)]
            for i, ev in enumerate(EVENTS):
                k = events.index(ev)
                if k < len(counts):
                    row[i] += counts[k]
            func[(ob, a)] = fn
    return cost, func


def lib(ob):
    base = os.path.basename(ob or "?")
    return base.split(".so")[0] if ".so" in base else base


def summarize(path, calls):
    cost, func = parse(path)
    s = {"total": [0] * len(EVENTS), "by_lib": collections.Counter(),
         "by_fn": collections.Counter(), "hot": collections.defaultdict(set)}
    for (ob, a), row in cost.items():
        for i in range(len(EVENTS)):
            s["total"][i] += row[i]
        s["by_lib"][lib(ob)] += row[0]
        s["by_fn"][(func[(ob, a)], lib(ob))] += row[0]
        # An instruction run at least HOT_SHARE of the calls: its line is
        # on every call's path.
        if row[0] >= calls * HOT_SHARE:
            s["hot"][lib(ob)].add(a // LINE)
    return s


def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "-"


def num(v):
    return "%.1f" % v if v else "-"


def report(c, f, calls, top):
    print("Per unary call, %d calls from h2load -c 16 -m 32 (0 B), under "
          "callgrind" % calls)
    print("%-30s %10s %10s %6s" % ("", "crpc", "floor", "ratio"))

    def row(label, a, b):
        print("%-30s %10s %10s %6s" % (label, num(a), num(b), ratio(a, b)))

    row("instructions", c["total"][0] / calls, f["total"][0] / calls)
    libs = sorted(set(c["by_lib"]) | set(f["by_lib"]),
                  key=lambda k: -c["by_lib"][k])
    for k in libs:
        if max(c["by_lib"][k], f["by_lib"][k]) >= calls:
            row("  " + k, c["by_lib"][k] / calls, f["by_lib"][k] / calls)
    for i, label in ((1, "L1 instruction misses"), (2, "L1 data read misses"),
                     (3, "L1 data write misses")):
        row(label, c["total"][i] / calls, f["total"][i] / calls)
    kib = LINE / 1024.0
    hc = sum(len(v) for v in c["hot"].values())
    hf = sum(len(v) for v in f["hot"].values())
    row("hot code, KiB", hc * kib, hf * kib)
    for k in sorted(set(c["hot"]) | set(f["hot"]),
                    key=lambda k: -len(c["hot"].get(k, ()))):
        a, b = len(c["hot"].get(k, ())), len(f["hot"].get(k, ()))
        if max(a, b) >= 4:
            row("  " + k, a * kib, b * kib)
    print("libcrpc's largest functions (instructions per call, their own):")
    own = [(k, n) for k, n in c["by_fn"].most_common() if k[1] == "libcrpc"]
    for (fn, _), n in own[:top]:
        print("  %8.1f  %s" % (n / calls, fn))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    require.programs("h2load", "valgrind", "callgrind_control")
    b = os.path.join(os.path.abspath(args.build), "bench")
    work = tempfile.mkdtemp(prefix="crpc-costs-")
    body = os.path.join(work, "body-0")
    grpc_body(body, 0)
    crpc = measure([os.path.join(b, "crpc", "crpc-bench-server"),
                    "--placement", "loop"], body, args.calls, work, "crpc")
    floor = measure([os.path.join(b, "floor", "crpc-bench-h2floor")], body,
                    args.calls, work, "floor")
    c, f = summarize(crpc, args.calls), summarize(floor, args.calls)
    # Far fewer than a call's worth: the profile missed the calls.
    for name, s in (("crpc", c), ("floor", f)):
        if s["total"][0] < args.calls * 1000:
            raise RuntimeError("%s: %d instructions for %d calls" %
                               (name, s["total"][0], args.calls))
    report(c, f, args.calls, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
