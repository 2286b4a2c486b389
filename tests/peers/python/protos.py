"""Python modules for .proto files, compiled when a peer starts.

The peers carry no generated code: protoc (with grpc_python_plugin) writes
the messages and stubs of the service proto, of everything it imports, and
of gRPC's health.proto into a private temporary directory, which is removed
when the process exits. Run with /usr/bin/python3, whose grpcio and
protobuf match the system's protoc.
"""
import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types

import require
require.modules("google.protobuf")
from google.protobuf import descriptor_pb2  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_PROTO_PATH = [os.path.join(REPO, "tests", "server", "proto"),
                      os.path.join(REPO, "proto")]
DEFAULT_HEALTH_PROTO = "/usr/share/grpc-proto/grpc/health/v1/health.proto"


def add_arguments(parser):
    """Adds the flags that say where the protos and the compiler are."""
    g = parser.add_argument_group("protos")
    g.add_argument("--proto-path", action="append", metavar="DIR",
                   help="include directory, repeatable (default: the "
                   "repository's tests/server/proto and proto)")
    g.add_argument("--proto", default="server_test.proto",
                   help="the service proto, relative to an include "
                   "directory (default: %(default)s)")
    g.add_argument("--health-proto", default=DEFAULT_HEALTH_PROTO,
                   metavar="FILE", help="gRPC's health.proto "
                   "(default: %(default)s)")
    g.add_argument("--protoc", default="protoc", help="protoc to run")
    g.add_argument("--grpc-python-plugin", default="/usr/bin/grpc_python_plugin",
                   metavar="FILE", help="protoc plugin for the stubs "
                   "(default: %(default)s)")


def _module_name(proto):
    return proto[:-len(".proto")].replace("/", ".").replace("-", "_")


def _protoc(args, argv):
    cmd = [args.protoc] + argv
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0:
        raise SystemExit("protoc failed: %s\n%s" % (" ".join(cmd), r.stdout))


def load(args):
    """Compiles and imports the service and health protos.

    Returns a namespace with `pb` and `grpc` (the service proto's messages
    and stubs) and `health_pb` and `health_grpc`. Exits with a message if
    protoc fails.
    """
    out = tempfile.mkdtemp(prefix="crpc-peer-protos-")
    atexit.register(shutil.rmtree, out, True)
    health_dir, health_file = os.path.split(os.path.abspath(args.health_proto))
    includes = []
    for d in (args.proto_path or DEFAULT_PROTO_PATH) + [health_dir]:
        includes.append("-I" + d)

    # Every file the two protos need, except protobuf's own (the Python
    # package ships those), gets a module.
    fds_path = os.path.join(out, "protos.pb")
    _protoc(args, includes + ["--include_imports",
                              "--descriptor_set_out=" + fds_path,
                              args.proto, health_file])
    fds = descriptor_pb2.FileDescriptorSet()
    with open(fds_path, "rb") as f:
        fds.ParseFromString(f.read())
    files = [f.name for f in fds.file
             if not f.name.startswith("google/protobuf/")]
    _protoc(args, includes + [
        "--python_out=" + out, "--grpc_python_out=" + out,
        "--plugin=protoc-gen-grpc_python=" + args.grpc_python_plugin] + files)

    sys.path.insert(0, out)
    ns = types.SimpleNamespace()
    name = _module_name(args.proto)
    ns.pb = importlib.import_module(name + "_pb2")
    ns.grpc = importlib.import_module(name + "_pb2_grpc")
    hname = _module_name(health_file)
    ns.health_pb = importlib.import_module(hname + "_pb2")
    ns.health_grpc = importlib.import_module(hname + "_pb2_grpc")
    return ns


def service_names(module):
    """The full names of the services a generated _pb2 module declares."""
    return [s.full_name for s in module.DESCRIPTOR.services_by_name.values()]
