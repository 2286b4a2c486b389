"""Server processes for the tests: started so that they die with the test,
and watched through their log until they say where they listen."""
import ctypes
import re
import signal
import subprocess
import time

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In the child before exec: SIGKILL it if the test dies first, so that
    even a killed test leaves no server running."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class LoggedProcess:
    """A process whose stdout and stderr go to |log_path|."""

    def __init__(self, cmd, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent)

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
