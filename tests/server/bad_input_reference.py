#!/usr/bin/python3
"""A grpcio server for WorkerTest and LoopTest, to hold bad_input.py's
cases against a reference gRPC implementation.

Only what bad_input.py calls is served: Unary and ServerStream of both
services (tests/server/README.md), with raw-bytes handlers, so no stubs are
generated: Req is decoded and Rep encoded by hand with bad_input.py's
helpers. A Req that does not decode makes the deserializer raise, as a
generated one would, so grpcio answers as it does for undecodable protobuf.

Usage: bad_input_reference.py [--listen 127.0.0.1:0]
Logs "listening on HOST:PORT (h2c)" on stderr, like crpc-server, and serves
until SIGTERM or SIGINT, then exits 0.
"""
import argparse
import os
import signal
import sys
import threading
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc")
import grpc  # noqa: E402
from bad_input import pb_decode, pb_field  # noqa: E402


def parse_req(data):
    f = pb_decode(data)  # raises ValueError on bad bytes

    def last(num, default):
        return f.get(num, [default])[-1]

    r = {"name": last(1, b"").decode("utf-8"),  # proto3: strings are UTF-8
         "payload": last(2, b"")}
    for num, key in ((3, "sleep_ms"), (4, "count"), (5, "status"),
                     (7, "reply_bytes")):
        v = last(num, 0)
        if not isinstance(v, int):
            raise ValueError("field %d: wrong wire type" % num)
        r[key] = v
    r["message"] = last(6, b"").decode("utf-8")
    return r


def rep(r, placement, count=0):
    payload = b"x" * r["reply_bytes"] if r["reply_bytes"] else r["payload"]
    return (pb_field(1, "hello " + r["name"]) + pb_field(2, payload) +
            pb_field(3, count) + pb_field(4, placement))


def fail_if_asked(r, context):
    if r["status"]:
        context.set_trailing_metadata((("x-status-trailer", "yes"),))
        context.abort(grpc.StatusCode(_CODES[r["status"]]), r["message"])


_CODES = {c.value[0]: c.value for c in grpc.StatusCode}


def service(name, placement):
    def unary(r, context):
        fail_if_asked(r, context)
        return rep(r, placement)

    def server_stream(r, context):
        for i in range(r["count"]):
            if not context.is_active():
                return
            yield rep(r, placement, i)
        fail_if_asked(r, context)

    ident = bytes  # replies are already encoded
    return grpc.method_handlers_generic_handler(name, {
        "Unary": grpc.unary_unary_rpc_method_handler(
            unary, request_deserializer=parse_req,
            response_serializer=ident),
        "ServerStream": grpc.unary_stream_rpc_method_handler(
            server_stream, request_deserializer=parse_req,
            response_serializer=ident),
    })


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    args = ap.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((
        service("crpc.servertest.WorkerTest", "worker"),
        service("crpc.servertest.LoopTest", "loop")))
    host = args.listen.rsplit(":", 1)[0]
    port = server.add_insecure_port(args.listen)
    if not port:
        sys.exit("bad_input_reference.py: cannot listen on " + args.listen)
    server.start()
    print("listening on %s:%d (h2c)" % (host, port), file=sys.stderr,
          flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1):
        pass
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
