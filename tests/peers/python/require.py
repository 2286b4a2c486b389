"""What a test program needs from the machine, checked before it is used.

A missing Python module or program ends the test with one line naming the
Debian package that provides it, instead of a traceback from deep inside a
test. `scripts/install-deps.sh test` installs every package named here
(bench/run.py's too); PACKAGES is the one table of which package provides
what.

    import require
    require.modules("grpc", "h2")   # before importing them
    require.programs("nginx")

From a shell script (tests/support/require.sh wraps it):

    /usr/bin/python3 require.py PROG_NAME node openssl
"""
import importlib
import os
import shutil
import sys

PACKAGES = {
    # Python modules
    "grpc": "python3-grpcio",
    "google.protobuf": "python3-protobuf",
    "h2": "python3-h2",
    "hpack": "python3-h2",
    # programs
    "protoc": "protobuf-compiler",
    "grpc_python_plugin": "protobuf-compiler-grpc",
    "nginx": "nginx",
    "prometheus": "prometheus",
    "node": "nodejs",
    "h2load": "nghttp2-client",
    "openssl": "openssl",
    "pkill": "procps",
    "taskset": "util-linux",
    "unshare": "util-linux",
    "mount": "mount",
    "clang": "clang",
    "groff": "groff-base",
    "cpack": "cmake",
    "dpkg-deb": "dpkg",
    "dpkg-shlibdeps": "dpkg-dev",
    "file": "file",
}


def _missing(what, name, program=None):
    prog = program or os.path.basename(sys.argv[0]) or "test"
    sys.exit("%s: needs %s %s (Debian package %s; "
             "scripts/install-deps.sh installs it)"
             % (prog, what, name, PACKAGES.get(name, name)))


def modules(*names):
    """Imports each module in |names| or exits naming its package."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            _missing("the Python module", name)


def program_path(name):
    """The path of program |name| (on PATH, or in /usr/sbin where Debian
    puts nginx), or None."""
    found = shutil.which(name)
    if found is None:
        for d in ("/usr/sbin", "/sbin"):
            p = os.path.join(d, name)
            if os.access(p, os.X_OK):
                return p
    return found


def programs(*names, program=None):
    """Exits naming the package of the first of |names| not installed."""
    for name in names:
        if program_path(name) is None:
            _missing("the program", name, program)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: require.py PROG_NAME PROGRAM...")
    programs(*sys.argv[2:], program=sys.argv[1])
