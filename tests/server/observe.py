#!/usr/bin/python3
"""What an operator sees and controls around each call, checked from
Python grpcio against crpc-server:

  interceptor     the test module's interceptor (--module-arg
                  interceptor=1) refuses a call that carries x-deny with
                  PERMISSION_DENIED and its message, on WorkerTest and
                  LoopTest, unary and bidi, before the handler runs; on
                  other calls it adds request metadata that the handler
                  echoes back, saying it ran where the handler runs (a
                  worker, or the loop).
  access-log      --access-log text: one line on stdout per call, for
                  all four kinds and a failed call, with the method,
                  status, placement, messages and bytes each way.
  access-log-json --access-log json: each line a JSON object with the same
                  fields; a status message with quotes, a backslash and
                  non-ASCII text survives; --access-log-level debug under
                  --log-level info hides the lines.
  trace           a call to Compose.Nested / NestedCo carrying traceparent
                  and tracestate: the second hop (WorkerTest/LoopTest.Unary,
                  called by the handler) sees the same trace id and flags,
                  a new span id, and the same tracestate; the access log
                  shows both hops in the trace. Without traceparent, the
                  second hop sees none.

Usage: observe.py BUILD_DIR SOURCE_DIR [--only NAME[,NAME...]]
Prints "ok - NAME" or "not ok - NAME: reason" per check and "N passed, M
failed"; exits 1 if a check failed. Bounded in time; leaves nothing
running.
"""
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc")
import grpc  # noqa: E402
import checks  # noqa: E402

CALL_S = 20  # deadline of calls that should just work, sanitizers included
LOG_WAIT_S = 10
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
ODD_MESSAGE = 'say "no" \\ to caf\u00e9 \u2713'


def channel(target):
    return grpc.insecure_channel(target, options=[
        ("grpc.use_local_subchannel_pool", 1), ("grpc.enable_retries", 0)])


def test_module(args):
    return [os.path.join(args.build, "tests/server/crpc_server_test_module.so")]


def compose_module(args):
    return [os.path.join(args.build,
                         "tests/client/crpc_client_compose_module.so")]


def expect_code(fn, code, details=None):
    try:
        fn()
    except grpc.RpcError as e:
        if e.code() != code:
            raise AssertionError("got %s (%s), expected %s"
                                 % (e.code(), e.details(), code))
        if details is not None and e.details() != details:
            raise AssertionError("message %r, expected %r"
                                 % (e.details(), details))
        return
    raise AssertionError("the call succeeded, expected %s" % code)


def headers_of(call):
    return dict(call.initial_metadata())


def check_interceptor(p, args, tmp):
    srv = checks.Server(args, tmp, "interceptor",
                 [test_module(args) + ["--module-arg", "interceptor=1"]])
    try:
        ch = channel(srv.target)
        for stub_cls, where in ((p.grpc.WorkerTestStub, "worker"),
                                (p.grpc.LoopTestStub, "loop")):
            stub = stub_cls(ch)
            denied = "denied by the test interceptor: " + where
            expect_code(lambda: stub.Unary(
                p.pb.Req(name="x", wait_cancel=True), timeout=CALL_S,
                metadata=[("x-deny", where)]),
                grpc.StatusCode.PERMISSION_DENIED, denied)
            expect_code(lambda: list(stub.Bidi(
                iter([p.pb.Req(name="a")]), timeout=CALL_S,
                metadata=[("x-deny", where)])),
                grpc.StatusCode.PERMISSION_DENIED, denied)
            rep, call = stub.Unary.with_call(p.pb.Req(name="ok"),
                                             timeout=CALL_S)
            md = headers_of(call)
            if rep.placement != where or md.get("x-echo-intercepted") != where:
                raise AssertionError(
                    "%s: handler ran on %s, interceptor on %s"
                    % (where, rep.placement, md.get("x-echo-intercepted")))
            it = stub.Bidi(iter([p.pb.Req(name="a"), p.pb.Req(name="b")]),
                           timeout=CALL_S)
            reps = list(it)
            if len(reps) != 2 or \
                    headers_of(it).get("x-echo-intercepted") != where:
                raise AssertionError("%s bidi: %d replies, headers %r"
                                     % (where, len(reps), headers_of(it)))
        ch.close()
        # The refused calls never reached a handler: wait_cancel would have
        # been recorded by Stats under the tag "x".
        ch = channel(srv.target)
        st = p.grpc.WorkerTestStub(ch).Stats(p.pb.StatsReq(tag="x"),
                                            timeout=CALL_S)
        ch.close()
        if st.cancelled or st.deadline:
            raise AssertionError("a refused call reached its handler")
        return "PERMISSION_DENIED before the handler, on worker and loop"
    finally:
        srv.stop()


def all_kinds(p, target):
    """One call of each kind and a failed one; returns what the access log
    must say of each: (method, status, messages_in, messages_out,
    placement)."""
    ch = channel(target)
    w, lp = p.grpc.WorkerTestStub(ch), p.grpc.LoopTestStub(ch)
    w.Unary(p.pb.Req(name="u"), timeout=CALL_S)
    lp.Unary(p.pb.Req(name="u"), timeout=CALL_S)
    list(w.ServerStream(p.pb.Req(name="s", count=3), timeout=CALL_S))
    w.ClientStream(iter([p.pb.Req(name=str(i)) for i in range(4)]),
                   timeout=CALL_S)
    list(lp.Bidi(iter([p.pb.Req(name="b", count=2)] * 2), timeout=CALL_S))
    expect_code(lambda: w.Unary(p.pb.Req(name="f", status=5,
                                         message=ODD_MESSAGE),
                                timeout=CALL_S), grpc.StatusCode.NOT_FOUND)
    ch.close()
    svc = "/crpc.servertest."
    return [(svc + "WorkerTest/Unary", "OK", 1, 1, "worker"),
            (svc + "LoopTest/Unary", "OK", 1, 1, "loop"),
            (svc + "WorkerTest/ServerStream", "OK", 1, 3, "worker"),
            (svc + "WorkerTest/ClientStream", "OK", 4, 1, "worker"),
            (svc + "LoopTest/Bidi", "OK", 2, 4, "loop"),
            (svc + "WorkerTest/Unary", "NOT_FOUND", 1, 0, "worker")]


def check_access_log(p, args, tmp):
    srv = checks.Server(args, tmp, "access-text", [test_module(args)],
                 ["--access-log", "text"])
    try:
        want = all_kinds(p, srv.target)
        lines = srv.wait_log(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z peer=",
                             len(want), LOG_WAIT_S)
        lines = [m.string for m in lines]
        if len(lines) != len(want):
            raise AssertionError("%d access lines for %d calls:\n%s"
                                 % (len(lines), len(want), "\n".join(lines)))
        for line, (method, status, n_in, n_out, where) in zip(lines, want):
            fields = dict(kv.split("=", 1) for kv in line.split(" ")[1:]
                          if "=" in kv)
            got = (fields.get("method"), fields.get("status"),
                   int(fields.get("messages_in", -1)),
                   int(fields.get("messages_out", -1)),
                   fields.get("placement"))
            if got != (method, status, n_in, n_out, where):
                raise AssertionError("line %r, expected %r" %
                                     (line, (method, status, n_in, n_out,
                                             where)))
            if not fields.get("peer", "").startswith("ipv4:127.0.0.1:") or \
                    int(fields["bytes_in"]) < 5 * n_in or \
                    float(fields["duration_ms"]) <= 0:
                raise AssertionError("line %r" % line)
        return "%d lines, one per call" % len(lines)
    finally:
        srv.stop()


def check_access_log_json(p, args, tmp):
    srv = checks.Server(args, tmp, "access-json", [test_module(args)],
                 ["--access-log", "json"])
    try:
        want = all_kinds(p, srv.target)
        lines = [m.string
                 for m in srv.wait_log(r"^\{", len(want), LOG_WAIT_S)]
        if len(lines) != len(want):
            raise AssertionError("%d JSON lines for %d calls"
                                 % (len(lines), len(want)))
        for line, (method, status, n_in, n_out, where) in zip(lines, want):
            o = json.loads(line)
            got = (o["method"], o["status"], o["messages_in"],
                   o["messages_out"], o["placement"])
            if got != (method, status, n_in, n_out, where):
                raise AssertionError("%r, expected %r"
                                     % (line, (method, status, n_in, n_out,
                                               where)))
            for k in ("time", "peer", "duration_ms", "bytes_in", "bytes_out",
                      "code"):
                if k not in o:
                    raise AssertionError("%r lacks %s" % (line, k))
        failed = json.loads(lines[-1])
        # Non-ASCII bytes are written as \\u00XX escapes of the UTF-8 bytes.
        got = failed.get("message", "").encode("latin-1").decode("utf-8")
        if got != ODD_MESSAGE or failed["code"] != 5:
            raise AssertionError("message %r code %r" %
                                 (got, failed["code"]))
    finally:
        srv.stop()
    quiet = checks.Server(args, tmp, "access-hidden", [test_module(args)],
                   ["--access-log", "json", "--access-log-level", "debug"])
    try:
        ch = channel(quiet.target)
        p.grpc.WorkerTestStub(ch).Unary(p.pb.Req(name="u"), timeout=CALL_S)
        ch.close()
        quiet.stop()
        if any(line.startswith("{") for line in quiet.log().splitlines()):
            raise AssertionError("debug-level access lines shown at info")
    finally:
        quiet.stop()
    return "JSON lines parse, messages survive, levels apply"


def parse_tp(value):
    m = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})",
                     value or "")
    if not m:
        raise AssertionError("not a traceparent: %r" % value)
    return m.groups()


def check_trace(p, args, tmp):
    srv = checks.Server(args, tmp, "trace", [test_module(args), compose_module(args)],
                 ["--access-log", "json"])
    try:
        ch = channel(srv.target)
        stub = p.compose_grpc.ComposeStub(ch)
        seen_spans = set()
        for method, worker in ((stub.Nested, True), (stub.NestedCo, False)):
            req = p.compose_pb.NestReq(target=srv.target, tag="t",
                                       worker=worker)
            _, call = method.with_call(req, timeout=CALL_S, metadata=[
                ("traceparent", TRACEPARENT), ("tracestate", TRACESTATE)])
            md = headers_of(call)
            trace, span, flags = parse_tp(md.get("x-inner-traceparent"))
            if trace != TRACE_ID or flags != "01" or span == PARENT_ID or \
                    span in seen_spans:
                raise AssertionError("second hop saw %r"
                                     % md.get("x-inner-traceparent"))
            seen_spans.add(span)
            if md.get("x-inner-tracestate") != TRACESTATE:
                raise AssertionError("second hop's tracestate %r"
                                     % md.get("x-inner-tracestate"))
            _, call = method.with_call(req, timeout=CALL_S)
            if "x-inner-traceparent" in headers_of(call):
                raise AssertionError("a trace appeared from nowhere: %r"
                                     % headers_of(call))
        ch.close()
        lines = [json.loads(m.string)
                 for m in srv.wait_log(r"^\{", 8, LOG_WAIT_S)]
        traced = [o for o in lines if o.get("trace_id") == TRACE_ID]
        hops = sorted(o["method"].rsplit("/", 1)[1] for o in traced)
        if hops != ["Nested", "NestedCo", "Unary", "Unary"]:
            raise AssertionError("traced calls in the access log: %r" % hops)
        spans = {o["span_id"] for o in traced}
        if len(spans) != 4 or spans & seen_spans or PARENT_ID in spans:
            raise AssertionError("span ids not distinct: %r / %r"
                                 % (spans, seen_spans))
        return "same trace id at the second hop, a new span at each"
    finally:
        srv.stop()


def main():
    args = checks.parse_args(__doc__)
    p = checks.load_protos(args.source)
    return checks.run([
        ("interceptor", lambda tmp: check_interceptor(p, args, tmp)),
        ("access-log", lambda tmp: check_access_log(p, args, tmp)),
        ("access-log-json", lambda tmp: check_access_log_json(p, args, tmp)),
        ("trace", lambda tmp: check_trace(p, args, tmp)),
    ], args.only, "crpc-observe-", show_logs="failed")


if __name__ == "__main__":
    sys.exit(main())
