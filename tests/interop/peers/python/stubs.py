"""What both grpcio interop peers share: the generated grpc.testing modules
and the flag parsing the interop contract asks for.

The modules are generated at build time into a directory given by --stubs,
by protoc with grpc_python_plugin from /usr/share/grpc-proto:
DIR/grpc/testing/{test,messages,empty}_pb2{,_grpc}.py. They import each
other as grpc.testing.*, a name inside grpcio's own package, so DIR/grpc is
added to that package's search path rather than DIR to sys.path. Run with
/usr/bin/python3, whose grpcio and protobuf match the system's protoc.
"""
import argparse
import importlib
import os
import types

import grpc

TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")


def parse_bool(text):
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise argparse.ArgumentTypeError("%r is not true or false" % text)


def new_parser(doc):
    """A parser that takes --flag=value and --flag value, refuses
    abbreviations, and answers an unknown flag with its usage on stderr and
    exit status 2. It has --stubs already."""
    ap = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stubs", required=True, metavar="DIR",
                    help="directory holding the generated grpc/testing "
                    "modules")
    return ap


def add_bool(ap, flag, help_text):
    """A flag that is false when absent and true when bare ("--use_tls"),
    or takes true/false ("--use_tls=false", "--use_tls false")."""
    ap.add_argument(flag, nargs="?", const=True, default=False,
                    type=parse_bool, metavar="true|false", help=help_text)


def load(stubs_dir):
    """Imports the generated modules; returns a namespace with test_grpc
    (the services' stubs and servicers), messages and empty. Exits with a
    message if they are not in |stubs_dir|."""
    testing = os.path.join(os.path.abspath(stubs_dir), "grpc")
    if not os.path.isfile(os.path.join(testing, "testing", "test_pb2_grpc.py")):
        raise SystemExit("no grpc/testing/test_pb2_grpc.py under --stubs %s"
                         % stubs_dir)
    grpc.__path__.append(testing)
    return types.SimpleNamespace(
        test_grpc=importlib.import_module("grpc.testing.test_pb2_grpc"),
        messages=importlib.import_module("grpc.testing.messages_pb2"),
        empty=importlib.import_module("grpc.testing.empty_pb2"))
