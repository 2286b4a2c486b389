#!/usr/bin/python3
"""gRPC server reflection as real tools use it, against crpc-server with
the greeter example module and no .proto given to anyone:

  grpcio-v1 / grpcio-v1alpha
                  Python grpcio's stubs for grpc.reflection.v1 (and
                  v1alpha), made from Debian's grpc-proto: list_services
                  names the greeter's, health's and reflection's own
                  services; file_containing_symbol for a service and for a
                  method gives greeter.proto with everything it imports
                  (crpc/options.proto, google/protobuf/descriptor.proto),
                  enough for a DescriptorPool to resolve the service and
                  its messages; file_by_filename gives a well-known type;
                  each file comes once per stream; an unknown symbol, file
                  or extension is NOT_FOUND and a request that asks nothing
                  INVALID_ARGUMENT, and the stream goes on; 200 requests on
                  one stream are all answered.
  buf-curl        `buf curl` (npm @bufbuild/buf) lists the services and the
                  methods, and calls a unary and a server-streaming
                  method, through each reflection version.
  malformed       requests that are not ServerReflectionRequests end their
                  stream INTERNAL; an extension request with no fields, a
                  1 MiB symbol and a symbol of control bytes are NOT_FOUND
                  (the message quoting at most 200 bytes of it); a stream
                  the client cancels mid-way, and 50 streams at once; the
                  server answers a normal request after all of them.
  no-reflection   crpc-server --no-reflection answers UNIMPLEMENTED.

Usage: reflection.py BUILD_DIR SOURCE_DIR [--only NAME[,NAME...]]
Prints "ok - NAME" or "not ok - NAME: reason" per check and "N passed, M
failed"; exits 1 if a check failed. Bounded in time; leaves nothing
running.
"""
import atexit
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "peers", "python"))
import require  # noqa: E402
require.modules("grpc", "google.protobuf")
import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402
import checks  # noqa: E402

CALL_S = 20
GRPC_PROTO = "/usr/share/grpc-proto"
BUF = os.path.join(HERE, "..", "peers", "node", "node_modules", ".bin", "buf")
SERVICES = {"greeter.Greeter", "greeter.Relay", "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"}


def reflection_stubs(version):
    """grpcio's messages and stubs for grpc.reflection.|version|. The file
    is copied under a name of its own first: its path (grpc/...) would make
    modules inside grpcio's own package."""
    out = tempfile.mkdtemp(prefix="crpc-refl-stubs-")
    atexit.register(shutil.rmtree, out, True)
    name = "reflection_" + version
    shutil.copy(os.path.join(GRPC_PROTO, "grpc", "reflection", version,
                             "reflection.proto"),
                os.path.join(out, name + ".proto"))
    r = subprocess.run(
        ["protoc", "-I" + out, "--python_out=" + out,
         "--grpc_python_out=" + out,
         "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
         name + ".proto"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise SystemExit("protoc failed: " + r.stdout)
    sys.path.insert(0, out)
    pb = importlib.import_module(name + "_pb2")
    stubs = importlib.import_module(name + "_pb2_grpc")
    return pb, stubs


def greeter(args):
    return os.path.join(args.build, "examples/greeter/libgreeter.so")


class Stream:
    """One ServerReflectionInfo stream, asked one request at a time."""

    def __init__(self, pb, stubs, target):
        import queue
        self.pb = pb
        self.ch = grpc.insecure_channel(target)
        self.q = queue.Queue()
        stub = stubs.ServerReflectionStub(self.ch)
        self.replies = stub.ServerReflectionInfo(iter(self.q.get, None),
                                                 timeout=CALL_S)

    def ask(self, **kw):
        self.q.put(self.pb.ServerReflectionRequest(host="h", **kw))
        return next(self.replies)

    def close(self):
        self.q.put(None)
        rest = list(self.replies)
        self.ch.close()
        if rest:
            raise AssertionError("replies after the last request: %r" % rest)


def files_of(rep):
    if rep.WhichOneof("message_response") != "file_descriptor_response":
        raise AssertionError("not files: %r" % rep)
    out = []
    for b in rep.file_descriptor_response.file_descriptor_proto:
        fd = descriptor_pb2.FileDescriptorProto()
        fd.ParseFromString(b)
        out.append(fd)
    return out


def expect_error(rep, code):
    if rep.WhichOneof("message_response") != "error_response" or \
            rep.error_response.error_code != code:
        raise AssertionError("expected error %d, got %r" % (code, rep))


def check_grpcio(version, args, tmp):
    pb, stubs = reflection_stubs(version)
    srv = checks.Server(args, tmp, "reflection-" + version, [greeter(args)])
    try:
        s = Stream(pb, stubs, srv.target)
        rep = s.ask(list_services="")
        names = {x.name for x in rep.list_services_response.service}
        if names != SERVICES or rep.valid_host != "h" or \
                rep.original_request.list_services != "":
            raise AssertionError("list_services: %r" % rep)
        files = files_of(s.ask(file_containing_symbol="greeter.Greeter"))
        got = [f.name for f in files]
        if got[0] != "greeter.proto" or \
                set(got) != {"greeter.proto", "crpc/options.proto",
                             "google/protobuf/descriptor.proto"}:
            raise AssertionError("files for greeter.Greeter: %r" % got)
        pool = descriptor_pool.DescriptorPool()
        for f in reversed(files):
            pool.Add(f)
        svc = pool.FindServiceByName("greeter.Greeter")
        if [m.name for m in svc.methods] != ["SayHello", "SayHelloLater",
                                             "SayHellos"] or \
                svc.methods[0].input_type.full_name != "greeter.HelloRequest":
            raise AssertionError("the pool's greeter.Greeter: %r" % svc)
        # Already sent: only the file asked for comes again.
        again = files_of(s.ask(
            file_containing_symbol="greeter.Greeter.SayHellos"))
        if [f.name for f in again] != ["greeter.proto"]:
            raise AssertionError("sent twice: %r" % [f.name for f in again])
        wkt = files_of(s.ask(file_by_filename="grpc/health/v1/health.proto"))
        if [f.name for f in wkt] != ["grpc/health/v1/health.proto"] or \
                wkt[0].package != "grpc.health.v1":
            raise AssertionError("health.proto: %r" % [f.name for f in wkt])
        expect_error(s.ask(file_containing_symbol="no.Such"), 5)
        expect_error(s.ask(file_by_filename="nope.proto"), 5)
        expect_error(s.ask(file_containing_extension=pb.ExtensionRequest(
            containing_type="greeter.HelloRequest", extension_number=99)), 5)
        expect_error(s.ask(all_extension_numbers_of_type="no.Such"), 5)
        nums = s.ask(all_extension_numbers_of_type=(
            "google.protobuf.MethodOptions"))
        if nums.WhichOneof("message_response") != \
                "all_extension_numbers_response" or \
                51501 not in nums.all_extension_numbers_response.\
                extension_number:
            raise AssertionError("extensions of MethodOptions: %r" % nums)
        ext = files_of(s.ask(file_containing_extension=pb.ExtensionRequest(
            containing_type="google.protobuf.MethodOptions",
            extension_number=51501)))
        if ext[0].name != "crpc/options.proto":
            raise AssertionError("extension 51501 in %s" % ext[0].name)
        expect_error(s.ask(), 3)
        for i in range(200):
            rep = s.ask(list_services="")
            if len(rep.list_services_response.service) != len(SERVICES):
                raise AssertionError("request %d: %r" % (i, rep))
        s.close()
        return "%d files for greeter.Greeter; errors in the stream; " \
            "200 more requests" % len(files)
    finally:
        srv.stop()


def buf(*argv):
    r = subprocess.run([BUF] + list(argv), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("buf %s: exit %d: %s" % (" ".join(argv),
                                                       r.returncode, r.stderr))
    return r.stdout


def check_buf(args, tmp):
    if not os.access(BUF, os.X_OK):
        raise AssertionError("needs buf from npm @bufbuild/buf "
                             "(scripts/install-deps.sh installs it)")
    srv = checks.Server(args, tmp, "buf", [greeter(args)])
    try:
        url = "http://" + srv.target
        for proto in ("grpc-v1", "grpc-v1alpha"):
            common = ["curl", "--protocol", "grpc", "--http2-prior-knowledge",
                      "--reflect-protocol", proto]
            listed = set(buf(*common, "--list-services", url).split())
            if not {"greeter.Greeter", "greeter.Relay"} <= listed:
                raise AssertionError("%s: listed %r" % (proto, listed))
            methods = [m for m in buf(*common, "--list-methods",
                                      url).split()
                       if m.startswith("greeter.Greeter/")]
            if methods != ["greeter.Greeter/SayHello",
                           "greeter.Greeter/SayHelloLater",
                           "greeter.Greeter/SayHellos"]:
                raise AssertionError("%s: methods %r" % (proto, methods))
            rep = json.loads(buf(*common, "-d", '{"name": "buf"}',
                                 url + "/greeter.Greeter/SayHello"))
            if "buf" not in rep.get("message", ""):
                raise AssertionError("%s: SayHello: %r" % (proto, rep))
            out = buf(*common, "-d", '{"name": "buf", "count": 3}',
                      url + "/greeter.Greeter/SayHellos")
            replies = [json.loads(x) for x in out.replace("}\n{", "}\0{")
                       .split("\0") if x.strip()]
            if len(replies) != 3:
                raise AssertionError("%s: SayHellos: %r" % (proto, out))
        return "services, methods, unary and server streaming, v1 and v1alpha"
    finally:
        srv.stop()


def check_malformed(args, tmp):
    pb, stubs = reflection_stubs("v1")
    srv = checks.Server(args, tmp, "malformed", [greeter(args)])
    try:
        ch = grpc.insecure_channel(srv.target)
        raw = ch.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        for junk in (b"\xff\xff\xff", b"\x1a\x05ab", b"\x08" * 7,
                     b"\x2a\x02\x08"):
            try:
                list(raw(iter([junk]), timeout=CALL_S))
                raise AssertionError("%r was answered" % junk)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.INTERNAL:
                    raise AssertionError("%r: %s" % (junk, e.code()))
        s = Stream(pb, stubs, srv.target)
        expect_error(s.ask(file_containing_extension=pb.ExtensionRequest()), 5)
        big = s.ask(file_containing_symbol="x" * (1 << 20))
        expect_error(big, 5)
        if len(big.error_response.error_message) > 300:
            raise AssertionError("the message quotes %d bytes"
                                 % len(big.error_response.error_message))
        expect_error(s.ask(file_containing_symbol="\x01\x02\n"), 5)
        s.close()
        stub = stubs.ServerReflectionStub(ch)
        cut = stub.ServerReflectionInfo(
            iter([pb.ServerReflectionRequest(list_services="")] * 3),
            timeout=CALL_S)
        next(cut)
        cut.cancel()
        many = [stub.ServerReflectionInfo(
            iter([pb.ServerReflectionRequest(file_by_filename="greeter.proto")]),
            timeout=CALL_S) for _ in range(50)]
        for r in many:
            if len(files_of(list(r)[0])) != 3:
                raise AssertionError("a concurrent stream was answered short")
        ch.close()
        s = Stream(pb, stubs, srv.target)
        if len(s.ask(list_services="").list_services_response.service) != \
                len(SERVICES):
            raise AssertionError("no answer after the malformed requests")
        s.close()
        return "INTERNAL for junk, NOT_FOUND for odd names, still serving"
    finally:
        srv.stop()


def check_off(args, tmp):
    pb, stubs = reflection_stubs("v1")
    srv = checks.Server(args, tmp, "no-reflection", [greeter(args)],
                        ["--no-reflection"])
    try:
        s = Stream(pb, stubs, srv.target)
        try:
            s.ask(list_services="")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise AssertionError("got %s" % e.code())
            return "UNIMPLEMENTED"
        raise AssertionError("reflection answered")
    finally:
        srv.stop()


def main():
    args = checks.parse_args(__doc__)
    return checks.run([
        ("grpcio-v1", lambda tmp: check_grpcio("v1", args, tmp)),
        ("grpcio-v1alpha", lambda tmp: check_grpcio("v1alpha", args, tmp)),
        ("buf-curl", lambda tmp: check_buf(args, tmp)),
        ("malformed", lambda tmp: check_malformed(args, tmp)),
        ("no-reflection", lambda tmp: check_off(args, tmp)),
    ], args.only, "crpc-reflection-", show_logs="failed")


if __name__ == "__main__":
    sys.exit(main())
