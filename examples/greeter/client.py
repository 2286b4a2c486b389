#!/usr/bin/python3
"""examples/greeter/client.py: calls the greeter's methods with grpcio.

Any gRPC client can call a crpc server; this one is Python's, and
greeter-client (client.c) is crpc's own. Make the stubs first
(scripts/demo.sh does it in a temporary directory):

  protoc -I examples/greeter -I proto --python_out=STUBS \\
         --grpc_python_out=STUBS \\
         --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \\
         greeter.proto crpc/options.proto
  /usr/bin/python3 examples/greeter/client.py --stubs STUBS 127.0.0.1:50051

It prints what each call did and how long it took, and exits 1 if any
result is not the expected one.
"""
import argparse
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stubs", required=True,
                   help="directory holding greeter_pb2.py and greeter_pb2_grpc.py")
    p.add_argument("target", help="host:port of the server")
    return p.parse_args()


class Checker:
    """Prints each step with its duration and remembers failures."""

    def __init__(self):
        self.failures = 0

    def step(self, what, seconds, ok, detail):
        mark = "ok  " if ok else "FAIL"
        print(f"  {mark} {what:<44} {seconds * 1000:7.1f} ms  {detail}",
              flush=True)
        if not ok:
            self.failures += 1


def say_hello(stub, pb, check):
    t0 = time.monotonic()
    reply = stub.SayHello(pb.HelloRequest(name="world"), timeout=5)
    check.step("SayHello (worker)", time.monotonic() - t0,
               reply.message == "Hello, world!" and reply.placement == "worker",
               f"-> {reply.message!r}, ran on {reply.placement}")


def say_hello_error(stub, pb, grpc, check):
    t0 = time.monotonic()
    try:
        stub.SayHello(pb.HelloRequest(name=""), timeout=5)
        code, details = grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        code, details = e.code(), e.details()
    check.step("SayHello with an empty name", time.monotonic() - t0,
               code == grpc.StatusCode.INVALID_ARGUMENT,
               f"-> {code.name}: {details!r}")


def say_hello_later(stub, pb, check, calls=5, delay_ms=300):
    """Calls that each sleep on the same loop overlap: the sleeping
    coroutines do not block it, so the total is about one delay."""
    t0 = time.monotonic()
    futures = [stub.SayHelloLater.future(
        pb.DelayedHelloRequest(name=f"caller {i}", delay_ms=delay_ms),
        timeout=10) for i in range(calls)]
    replies = [f.result() for f in futures]
    took = time.monotonic() - t0
    ok = (all(r.placement == "loop" for r in replies)
          and took < calls * delay_ms / 1000 / 2)
    check.step(f"SayHelloLater x{calls} at once, {delay_ms} ms each (loop)",
               took, ok,
               f"-> {replies[0].message!r} ...; serial would take "
               f"{calls * delay_ms} ms")


def say_hellos(stub, pb, check, count=5, interval_ms=50):
    t0 = time.monotonic()
    stream = stub.SayHellos(pb.RepeatedHelloRequest(
        name="stream", count=count, interval_ms=interval_ms), timeout=10)
    arrivals = []
    for reply in stream:
        arrivals.append((time.monotonic() - t0) * 1000)
    took = time.monotonic() - t0
    times = ", ".join(f"{a:.0f}" for a in arrivals)
    check.step(f"SayHellos count={count} every {interval_ms} ms (worker)",
               took, len(arrivals) == count,
               f"-> {len(arrivals)} replies at {times} ms")


def relay_greet(stub, pb, target, check):
    """Relay.Greet is a coroutine on the server that calls SayHello at
    |target|, here the same server, through crpc's client."""
    t0 = time.monotonic()
    reply = stub.Greet(pb.RelayRequest(target=target, name="python"),
                       timeout=5)
    check.step("Relay.Greet -> Greeter.SayHello", time.monotonic() - t0,
               reply.reply.message == "Hello, python!"
               and reply.placement == "loop",
               f"-> {reply.reply.message!r}: Relay ran on the "
               f"{reply.placement}, SayHello on a {reply.reply.placement}")


def main():
    args = parse_args()
    sys.path.insert(0, args.stubs)
    import grpc
    import greeter_pb2 as pb
    import greeter_pb2_grpc as pb_grpc

    # A proxy from the environment must not come between us and a loopback
    # server.
    channel = grpc.insecure_channel(args.target,
                                    options=[("grpc.enable_http_proxy", 0)])
    grpc.channel_ready_future(channel).result(timeout=5)
    stub = pb_grpc.GreeterStub(channel)
    check = Checker()
    try:
        say_hello(stub, pb, check)
        say_hello_error(stub, pb, grpc, check)
        say_hello_later(stub, pb, check)
        say_hellos(stub, pb, check)
        relay_greet(pb_grpc.RelayStub(channel), pb, args.target, check)
    except grpc.RpcError as e:
        print(f"  FAIL unexpected {e.code().name}: {e.details()}")
        check.failures += 1
    finally:
        channel.close()
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
