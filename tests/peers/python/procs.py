"""Server processes for the tests: started so that they die with the test,
and watched through their log until they say where they listen."""
import re
import subprocess
import time


def dying_with_parent(cmd):
    """|cmd|, run so that it gets SIGKILL if the test dies first: even a
    killed test leaves no server running. setpriv (util-linux) sets the
    parent-death signal and executes |cmd|, so that no Python code runs
    between fork and exec and subprocess starts it with vfork(). A fork()
    of a test that holds gRPC channels runs grpcio's fork handlers, which
    now and then crash the test itself (grpc/grpc#31885)."""
    return ["setpriv", "--pdeathsig", "KILL", "--"] + list(cmd)


class LoggedProcess:
    """A process whose stdout and stderr go to |log_path|."""

    def __init__(self, cmd, log_path):
        self.cmd = list(cmd)
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(dying_with_parent(cmd), stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_for(self, patterns, timeout_s=30):
        """Waits until the log matches every regular expression in
        |patterns|; returns the match objects. Raises RuntimeError if the
        process exits or |timeout_s| passes first."""
        end = time.monotonic() + timeout_s
        while True:
            text = self.read_log()
            found = [re.search(p, text) for p in patterns]
            if all(found):
                return found
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited with status %d before "
                                   "listening:\n%s" % (self.proc.returncode, text))
            if time.monotonic() > end:
                raise RuntimeError("the server did not log where it listens "
                                   "within %d s:\n%s" % (timeout_s, text))
            time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
