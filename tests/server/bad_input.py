#!/usr/bin/python3
"""Bad input to a gRPC server over raw HTTP/2, byte by byte.

Each case runs on its own connection and must get the answer RFC 9113 and
gRPC's PROTOCOL-HTTP2 prescribe; after each, a fresh connection must still
get a good answer from a normal unary call, so a case that hangs, kills or
wedges the server fails even when its own answer looked right.

The server serves crpc.servertest.WorkerTest and LoopTest
(tests/server/proto/server_test.proto, behaviour in tests/server/README.md).
Request headers are sent as HPACK literals without Huffman coding, written
here by hand; the server's header blocks are decoded with the hpack package
(python3-h2), which the Huffman code and dynamic table need.

Usage: bad_input.py --target HOST:PORT [--pid PID] [--only NAME[,NAME...]]
                    [--timeout S] [--budget S] [--verbose]
Prints "ok - NAME" (with "# what was seen" for some) or "not ok - NAME:
reason" per case, then "N passed, M failed"; exits 1 if any case failed.
--pid also checks after each case that the process is alive, and bounds
its memory growth under a peer that stops reading. --verbose shows every
frame received on stderr.
"""
import argparse
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "peers", "python"))
import require  # noqa: E402
require.modules("hpack")
import hpack  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0, 1, 2, 3, 4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 5, 6, 7, 8, 9
FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
               "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE",
               "CONTINUATION"]
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

ERROR_NAMES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR",
               "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
               "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
               "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
               "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
PROTOCOL_ERROR, FRAME_SIZE_ERROR, REFUSED_STREAM = 1, 6, 7
INTERNAL_ERROR, STREAM_CLOSED = 2, 5
COMPRESSION_ERROR = 9
ENHANCE_YOUR_CALM = 11
FLOW_CONTROL_ERROR = 3
# Frames that ask nothing (empty DATA, PING, PRIORITY, unknown types) a
# flood sends: past crpc's budget (a burst of 1000, then 100 a second).
FLOOD = 3000

SETTINGS_MAX_CONCURRENT_STREAMS = 3
SETTINGS_INITIAL_WINDOW_SIZE = 4
SETTINGS_MAX_FRAME_SIZE = 5
SETTINGS_MAX_HEADER_LIST_SIZE = 6
MAX_FRAME_SIZE = 16384  # SETTINGS_MAX_FRAME_SIZE's initial value

# gRPC status codes used below.
OK, UNIMPLEMENTED, INTERNAL, RESOURCE_EXHAUSTED = 0, 12, 13, 8
DEADLINE_EXCEEDED = 4
# What a unary method answers to a request with zero or two messages. gRPC's
# spec names no code. grpcio says UNIMPLEMENTED ("requires exactly one
# request message") for zero and answers the first of two; gRPC C++ says
# INTERNAL ("No payload") for zero, Java and Go INTERNAL for both; crpc
# answers INTERNAL for both, as most implementations do.
UNARY_ZERO_MESSAGES = {INTERNAL}
UNARY_TWO_MESSAGES = {INTERNAL}

VERBOSE = False  # --verbose: every frame received goes to stderr
# Under a sanitizer (CRPC_TEST_SANITIZED, set by the build's ctest) the
# server runs 5 to 15 times slower, and its RSS is mostly the sanitizer's:
# TSan's shadow follows the heap, and its free() clears the shadow of what
# it frees, so memory the server keeps a while and frees later (its
# message caches, trimmed by a loop's sweep) costs CPU and shadow in
# whichever case runs then. The cases' CPU and memory bounds are these
# many times larger there: still far below what the attacks they guard
# against would cost.
SANITIZED = bool(os.environ.get("CRPC_TEST_SANITIZED"))
CPU_SLACK = 10 if SANITIZED else 1
RSS_SLACK = 5 if SANITIZED else 1
MAX_MESSAGE = 4 * 1024 * 1024  # the default receive limit
WORKER = "/crpc.servertest.WorkerTest/"
LOOP = "/crpc.servertest.LoopTest/"


def error_name(code):
    if 0 <= code < len(ERROR_NAMES):
        return ERROR_NAMES[code]
    return "0x%x" % code


# --- HTTP/2 frames and HPACK literals ------------------------------------

def frame(ftype, flags, stream, payload=b"", length=None):
    """One frame; |length| overrides the header's length field."""
    n = len(payload) if length is None else length
    return (struct.pack(">I", n)[1:] + bytes([ftype, flags]) +
            struct.pack(">I", stream & 0x7FFFFFFF) + payload)


def settings_frame(pairs=()):
    return frame(SETTINGS, 0,
                 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def hpack_int(value, prefix_bits, first=0):
    """RFC 7541 5.1 integer with an N-bit prefix; |first| has the flags."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_string(s):
    raw = s.encode() if isinstance(s, str) else s
    return hpack_int(len(raw), 7) + raw  # H = 0: no Huffman coding


def header_block(headers):
    """Literal header fields without indexing, new names (RFC 7541 6.2.2)."""
    return b"".join(b"\x00" + hpack_string(k) + hpack_string(v)
                    for k, v in headers)


# --- protobuf, by hand ---------------------------------------------------

def pb_varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pb_field(num, value):
    """A varint (int) or length-delimited (str, bytes) field; 0/"" skipped."""
    if not value:
        return b""
    if isinstance(value, int):
        return pb_varint(num << 3) + pb_varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return pb_varint(num << 3 | 2) + pb_varint(len(raw)) + raw


def pb_read_varint(data, i):
    n = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, i


def pb_decode(data):
    """Field number -> list of values (ints or bytes); ValueError if bad."""
    fields = {}
    i = 0
    while i < len(data):
        key, i = pb_read_varint(data, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ValueError("field number 0")
        if wt == 0:
            v, i = pb_read_varint(data, i)
        elif wt == 1 or wt == 5:
            size = 8 if wt == 1 else 4
            if i + size > len(data):
                raise ValueError("truncated fixed field")
            v, i = data[i:i + size], i + size
        elif wt == 2:
            size, i = pb_read_varint(data, i)
            if i + size > len(data):
                raise ValueError("truncated length-delimited field")
            v, i = bytes(data[i:i + size]), i + size
        else:
            raise ValueError("wire type %d" % wt)
        fields.setdefault(num, []).append(v)
    return fields


def req(name="", payload=b"", sleep_ms=0, count=0, status=0, message="",
        reply_bytes=0):
    """crpc.servertest.Req."""
    return (pb_field(1, name) + pb_field(2, payload) + pb_field(3, sleep_ms) +
            pb_field(4, count) + pb_field(5, status) + pb_field(6, message) +
            pb_field(7, reply_bytes))


def rep_text(body):
    """Rep.text of a crpc.servertest.Rep."""
    return pb_decode(body).get(1, [b""])[-1].decode("utf-8", "replace")


def grpc_message(body, declared=None):
    """A length-prefixed gRPC message; |declared| overrides the length."""
    n = len(body) if declared is None else declared
    return b"\x00" + struct.pack(">I", n) + body


def grpc_messages(data):
    """Splits a stream's DATA into messages; ValueError if truncated."""
    out = []
    i = 0
    while i < len(data):
        if i + 5 > len(data):
            raise ValueError("truncated message prefix")
        n = struct.unpack(">I", data[i + 1:i + 5])[0]
        if i + 5 + n > len(data):
            raise ValueError("truncated message")
        out.append(bytes(data[i + 5:i + 5 + n]))
        i += 5 + n
    return out


# --- a client connection -------------------------------------------------

class Failure(Exception):
    """A case's expectation was not met; the message says how."""


def wait_socket(sock, read, write, timeout):
    """Waits up to |timeout| seconds for |sock| to be readable (if |read|)
    or writable (if |write|); returns (readable, writable). poll, not
    select: descriptors past 1023 are fine."""
    p = select.poll()
    p.register(sock, (select.POLLIN if read else 0) |
               (select.POLLOUT if write else 0))
    ev = 0
    for _, e in p.poll(timeout * 1000):
        ev |= e
    gone = select.POLLERR | select.POLLHUP
    return (bool(ev & (select.POLLIN | gone)) and read,
            bool(ev & (select.POLLOUT | gone)) and write)


class Stream:
    def __init__(self, sid):
        self.id = sid
        self.blocks = []      # decoded header blocks, in order
        self.events = []      # ("HEADERS", end_stream) / ("DATA", n, end)
        self.data = bytearray()
        self.ended = False    # END_STREAM received
        self.rst = None       # RST_STREAM error code
        self.window = 65535   # credit to send DATA on it
        self.pending = bytearray()  # DATA waiting for credit
        self.pending_end = False    # ... and then END_STREAM

    @property
    def done(self):
        return self.ended or self.rst is not None

    def header(self, name, block=None):
        blocks = self.blocks if block is None else [self.blocks[block]]
        for b in reversed(blocks):
            for k, v in reversed(b):
                if k == name:
                    return v
        return None

    def grpc_status(self):
        """grpc-status of the trailers (or of a trailers-only answer)."""
        if not self.ended or not self.blocks:
            return None
        v = self.header("grpc-status", -1)
        return int(v) if v is not None and v.isdigit() else None

    def http_status(self):
        if not self.blocks:
            return None
        return self.header(":status", 0)

    def trailers_only(self):
        return (len(self.events) == 1 and self.events[0] == ("HEADERS", True))

    def describe(self):
        parts = []
        if self.blocks:
            parts.append("headers " + "; ".join(
                ", ".join("%s: %s" % (k, v[:80]) for k, v in b)
                for b in self.blocks))
        if self.data:
            parts.append("%d DATA bytes" % len(self.data))
        if self.rst is not None:
            parts.append("RST_STREAM " + error_name(self.rst))
        if not self.done:
            parts.append("stream not ended")
        return ", ".join(parts) or "no answer"


class Conn:
    """One HTTP/2 client connection driven by hand.

    Frames to send are queued with send() and written by pump(), which also
    reads and handles what the server sends: it acknowledges SETTINGS and
    PING, and (unless auto_window is off) gives back flow-control credit for
    every DATA frame, so a normal call flows however large its answer is.
    DATA queued with data() goes out as the server's flow-control windows
    allow, and no more is sent on a stream once the server has ended it.
    """

    def __init__(self, target, timeout, preface=True, auto_window=True,
                 max_frame=MAX_FRAME_SIZE, answer_pings=True):
        host, port = target.rsplit(":", 1)
        self.authority = target
        self.sock = socket.create_connection((host.strip("[]"), int(port)),
                                             timeout=timeout)
        self.sock.setblocking(False)
        self.auto_window = auto_window
        self.out = bytearray()
        self.inbuf = bytearray()
        self.decoder = hpack.Decoder()
        self.streams = {}
        self.next_id = 1
        self.server_settings = None  # dict once the server's SETTINGS came
        self.goaway = None           # (last_stream_id, code, debug)
        self.closed = None           # why the connection ended, once it did
        self.garbage = None          # bytes that were not HTTP/2 frames
        self.header_block = None     # (stream, flags, fragments) pending
        self.frames_in = 0
        self.ping_acks = 0
        self.send_error = None
        self.window = 65535  # connection-level credit to send DATA
        self.max_frame = max_frame  # the SETTINGS_MAX_FRAME_SIZE announced
        self.answer_pings = answer_pings
        self.pings_in = 0  # PINGs the server sent
        if preface:
            pairs = [] if max_frame == MAX_FRAME_SIZE else \
                [(SETTINGS_MAX_FRAME_SIZE, max_frame)]
            self.send(PREFACE + settings_frame(pairs))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.out += data

    def stream(self, sid):
        st = self.streams.get(sid)
        if st is None:
            st = self.streams[sid] = Stream(sid)
            st.window = (self.server_settings or {}).get(
                SETTINGS_INITIAL_WINDOW_SIZE, 65535)
        return st

    def request_headers(self, path, method="POST",
                        content_type="application/grpc", extra=()):
        h = [(":method", method), (":scheme", "http"), (":path", path),
             (":authority", self.authority)]
        if content_type is not None:
            h.append(("content-type", content_type))
        h.append(("te", "trailers"))
        h.extend(extra)
        return h

    def open(self, path, end_stream=False, **kw):
        """Sends a HEADERS frame opening the next stream; returns it."""
        sid = self.next_id
        self.next_id += 2
        block = header_block(self.request_headers(path, **kw))
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        self.send(frame(HEADERS, flags, sid, block))
        return self.stream(sid)

    def data(self, st, payload, end_stream=False):
        """Queues DATA on |st|, sent within flow control by pump()."""
        st.pending += payload
        st.pending_end = st.pending_end or end_stream
        self.release()

    def release(self):
        """Moves queued DATA that the windows allow into the output."""
        for st in self.streams.values():
            if not st.pending and not st.pending_end:
                continue
            if st.done:  # the server is finished with it: send no more
                st.pending.clear()
                st.pending_end = False
                continue
            while st.pending:
                n = min(len(st.pending), self.window, st.window,
                        MAX_FRAME_SIZE)
                if n <= 0:
                    break
                last = n == len(st.pending) and st.pending_end
                self.send(frame(DATA, END_STREAM if last else 0, st.id,
                                bytes(st.pending[:n])))
                del st.pending[:n]
                self.window -= n
                st.window -= n
                if last:
                    st.pending_end = False
            if not st.pending and st.pending_end:
                self.send(frame(DATA, END_STREAM, st.id))
                st.pending_end = False

    def unary(self, path, body, **kw):
        """A whole unary call: headers, one message, end of stream."""
        st = self.open(path, **kw)
        self.data(st, grpc_message(body), end_stream=True)
        return st

    def pump(self, until, timeout):
        """Writes and reads until until() holds, the connection ends or
        |timeout| seconds pass; returns until()."""
        end = time.monotonic() + timeout
        while not until():
            if self.closed:
                return until()
            self.release()
            left = end - time.monotonic()
            if left <= 0:
                return until()
            try:
                r, w = wait_socket(self.sock, True, bool(self.out),
                                   min(left, 0.2))
            except (OSError, ValueError) as e:
                self.closed = "poll: %s" % e
                break
            if w:
                try:
                    n = self.sock.send(self.out)
                    del self.out[:n]
                except BlockingIOError:
                    pass
                except OSError as e:
                    # The peer may have closed with a GOAWAY still unread:
                    # keep reading what arrived before deciding.
                    self.out.clear()
                    self.send_error = e.strerror
            if r:
                try:
                    chunk = self.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    self.closed = "reset (%s)" % e.strerror
                    break
                if not chunk:
                    self.closed = "closed by the server"
                    if VERBOSE:
                        print("  < EOF", file=sys.stderr)
                    break
                self.inbuf += chunk
                self.parse()
        return until()

    def flush(self, timeout):
        """Writes everything queued without reading anything."""
        end = time.monotonic() + timeout
        self.release()
        while self.out and time.monotonic() < end:
            _, w = wait_socket(self.sock, False, True, 0.1)
            if w:
                try:
                    del self.out[:self.sock.send(self.out)]
                except BlockingIOError:
                    pass
        if self.out:
            raise Failure("could not write %d bytes in %.0fs" %
                          (len(self.out), timeout))

    def parse(self):
        if self.garbage is not None:
            self.garbage += self.inbuf
            self.inbuf.clear()
            return
        if self.frames_in == 0 and self.inbuf[:5] == b"HTTP/":
            self.garbage = bytes(self.inbuf)
            self.inbuf.clear()
            return
        while len(self.inbuf) >= 9:
            n = int.from_bytes(self.inbuf[:3], "big")
            if n > self.max_frame:
                self.garbage = bytes(self.inbuf)
                self.inbuf.clear()
                return
            if len(self.inbuf) < 9 + n:
                return
            ftype, flags = self.inbuf[3], self.inbuf[4]
            sid = int.from_bytes(self.inbuf[5:9], "big") & 0x7FFFFFFF
            payload = bytes(self.inbuf[9:9 + n])
            del self.inbuf[:9 + n]
            self.frames_in += 1
            self.on_frame(ftype, flags, sid, payload)

    def on_frame(self, ftype, flags, sid, payload):
        if VERBOSE:
            name = FRAME_NAMES[ftype] if ftype < len(FRAME_NAMES) else ftype
            print("  < %s flags=0x%x stream=%d len=%d %r" %
                  (name, flags, sid, len(payload), payload[:24]),
                  file=sys.stderr)
        if self.header_block and ftype != CONTINUATION:
            raise Failure("server sent frame type %d inside a header block"
                          % ftype)
        if ftype == DATA:
            n = len(payload)  # padding counts against flow control too
            payload = self.unpad(flags, payload)
            st = self.stream(sid)
            st.data += payload
            st.events.append(("DATA", len(payload), bool(flags & END_STREAM)))
            st.ended = st.ended or bool(flags & END_STREAM)
            if self.auto_window and n:
                self.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", n)))
                if not st.done:
                    self.send(frame(WINDOW_UPDATE, 0, sid,
                                    struct.pack(">I", n)))
        elif ftype == HEADERS:
            payload = self.unpad(flags, payload)
            if flags & PRIORITY_FLAG:
                payload = payload[5:]
            self.header_block = (sid, flags, [payload])
            if flags & END_HEADERS:
                self.end_block()
        elif ftype == CONTINUATION:
            if not self.header_block or self.header_block[0] != sid:
                raise Failure("server sent a stray CONTINUATION")
            self.header_block[2].append(payload)
            if flags & END_HEADERS:
                self.end_block()
        elif ftype == RST_STREAM and len(payload) == 4:
            self.stream(sid).rst = struct.unpack(">I", payload)[0]
        elif ftype == SETTINGS and not flags & ACK:
            s = dict(struct.unpack(">HI", payload[i:i + 6])
                     for i in range(0, len(payload) - 5, 6))
            if self.server_settings is None:
                self.server_settings = {}
            if SETTINGS_INITIAL_WINDOW_SIZE in s:
                old = self.server_settings.get(SETTINGS_INITIAL_WINDOW_SIZE,
                                               65535)
                for st in self.streams.values():
                    st.window += s[SETTINGS_INITIAL_WINDOW_SIZE] - old
            self.server_settings.update(s)
            self.send(frame(SETTINGS, ACK, 0))
        elif ftype == WINDOW_UPDATE and len(payload) == 4:
            n = struct.unpack(">I", payload)[0] & 0x7FFFFFFF
            if sid == 0:
                self.window += n
            else:
                self.stream(sid).window += n
        elif ftype == PING and not flags & ACK:
            self.pings_in += 1
            if self.answer_pings:
                self.send(frame(PING, ACK, 0, payload))
        elif ftype == PING:
            self.ping_acks += 1
        elif ftype == GOAWAY and len(payload) >= 8:
            last, code = struct.unpack(">II", payload[:8])
            self.goaway = (last & 0x7FFFFFFF, code, payload[8:])

    @staticmethod
    def unpad(flags, payload):
        if flags & PADDED and payload:
            return payload[1:len(payload) - payload[0]]
        return payload

    def end_block(self):
        sid, flags, parts = self.header_block
        self.header_block = None
        try:
            headers = self.decoder.decode(b"".join(parts))
        except Exception as e:  # hpack raises several kinds
            raise Failure("cannot decode the server's header block: %s" % e)
        if VERBOSE:
            print("    %s" % headers, file=sys.stderr)
        st = self.stream(sid)
        st.blocks.append(headers)
        st.events.append(("HEADERS", bool(flags & END_STREAM)))
        st.ended = st.ended or bool(flags & END_STREAM)

    def describe(self):
        parts = []
        if self.goaway:
            last, code, debug = self.goaway
            parts.append("GOAWAY %s last-stream %d%s" % (
                error_name(code), last,
                (" %r" % debug[:100].decode("utf-8", "replace"))
                if debug else ""))
        if self.garbage is not None:
            parts.append("non-HTTP/2 bytes %r" % self.garbage[:40])
        if self.closed:
            parts.append(self.closed)
        if self.send_error:
            parts.append("a write failed (%s)" % self.send_error)
        return ", ".join(parts) or "connection open, no GOAWAY"


# --- checks shared by the cases -------------------------------------------

class Run:
    def __init__(self, args):
        self.target = args.target
        self.pid = args.pid
        self.timeout = args.timeout
        self.header_list = args.header_list
        self.idle_frames_burst = args.idle_frames_burst
        self.handshake_timeout = args.handshake_timeout
        self.deadline = time.monotonic() + args.budget
        self.conns = []  # closed after each case

    def left(self, want=None):
        """Seconds a wait may take: |want| (default timeout) or less."""
        t = min(want or self.timeout, self.deadline - time.monotonic())
        if t <= 0:
            raise Failure("the run's time budget is spent")
        return t

    def conn(self, **kw):
        try:
            c = Conn(self.target, self.left(), **kw)
        except OSError as e:
            raise Failure("cannot connect: %s" % e)
        self.conns.append(c)
        return c

    def close_all(self):
        for c in self.conns:
            c.close()
        self.conns = []

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def cpu_seconds(self):
        """The server's user and system CPU time so far, or None."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / \
                os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def server_exists(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
        except OSError:
            return False


def wait_streams(run, c, streams, timeout=None):
    c.pump(lambda: all(s.done for s in streams), run.left(timeout))


def expect_ok_reply(st, name):
    """A unary answer: grpc-status 0 and Rep.text "hello NAME"."""
    if st.grpc_status() != OK:
        raise Failure("want grpc-status 0, got: " + st.describe())
    try:
        msgs = grpc_messages(st.data)
        text = rep_text(msgs[0]) if len(msgs) == 1 else None
    except (ValueError, IndexError) as e:
        raise Failure("bad reply (%s): %s" % (e, st.describe()))
    if text != "hello " + name:
        raise Failure("reply text %r, want %r" % (text, "hello " + name))


def check_alive(run, timeout=None):
    """A fresh connection gets good unary answers from both services."""
    c = run.conn()
    try:
        calls = [c.unary(svc + "Unary", req(name="alive")) for svc in
                 (WORKER, LOOP)]
        wait_streams(run, c, calls, timeout)
        for st in calls:
            if not st.done:
                raise Failure("no answer in time (%s; %s)" %
                              (st.describe(), c.describe()))
            expect_ok_reply(st, "alive")
    finally:
        c.close()


def expect_connection_error(run, c, code):
    """The server answers with GOAWAY |code| and then closes (RFC 9113
    5.4.1: after a GOAWAY for an error it MUST close the connection)."""
    c.pump(lambda: c.goaway is not None, run.left())
    if c.goaway is None:
        raise Failure("want GOAWAY %s, got: %s" % (error_name(code),
                                                    c.describe()))
    if c.goaway[1] != code:
        raise Failure("want GOAWAY %s, got: %s" % (error_name(code),
                                                    c.describe()))
    if not c.pump(lambda: c.closed is not None, run.left(3)):
        raise Failure("GOAWAY %s sent but the connection stayed open" %
                      error_name(code))


def expect_connection_error_in(run, c, codes):
    """As expect_connection_error, for any of |codes|."""
    c.pump(lambda: c.goaway is not None, run.left())
    if c.goaway is None or c.goaway[1] not in codes:
        raise Failure("want GOAWAY %s, got: %s" % (
            " or ".join(error_name(x) for x in codes), c.describe()))
    if not c.pump(lambda: c.closed is not None, run.left(3)):
        raise Failure("GOAWAY sent but the connection stayed open")


def expect_refused_preface(run, c):
    """GOAWAY(PROTOCOL_ERROR) or a close, in time."""
    c.pump(lambda: c.closed is not None or c.goaway is not None, run.left())
    if c.goaway is not None and c.goaway[1] != PROTOCOL_ERROR:
        raise Failure("want GOAWAY PROTOCOL_ERROR or a close, got: " +
                      c.describe())
    if not c.pump(lambda: c.closed is not None, run.left(3)):
        raise Failure("connection left open: " + c.describe())


def expect_status(run, c, st, code, trailers_only=False, http=None):
    wait_streams(run, c, [st])
    if not st.done:
        raise Failure("no answer in time: %s; %s" % (st.describe(),
                                                     c.describe()))
    got = st.grpc_status()
    if http is not None and st.http_status() != http:
        raise Failure("want HTTP :status %s, got: %s" % (http, st.describe()))
    if got != code:
        raise Failure("want grpc-status %d, got: %s" % (code, st.describe()))
    if trailers_only and not st.trailers_only():
        raise Failure("want a trailers-only answer (one HEADERS with "
                      "END_STREAM), got frames %s" % st.events)


# --- the cases -------------------------------------------------------------

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


@case
def bad_preface_http1(run):
    c = run.conn(preface=False)
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    expect_refused_preface(run, c)


@case
def bad_preface_random_bytes(run):
    rng = random.Random(9113)
    c = run.conn(preface=False)
    c.send(bytes(rng.randrange(256) for _ in range(64)))
    expect_refused_preface(run, c)


@case
def bad_preface_no_settings(run):
    """The magic, then a PING where the SETTINGS frame must be."""
    c = run.conn(preface=False)
    c.send(PREFACE + frame(PING, 0, 0, b"12345678"))
    expect_refused_preface(run, c)


@case
def headers_on_stream_0(run):
    c = run.conn()
    block = header_block(c.request_headers(WORKER + "Unary"))
    c.send(frame(HEADERS, END_HEADERS, 0, block))
    expect_connection_error(run, c, PROTOCOL_ERROR)


@case
def settings_length_not_multiple_of_6(run):
    c = run.conn()
    c.send(frame(SETTINGS, 0, 0, b"\x00\x04\x00\x01\x00"))
    expect_connection_error(run, c, FRAME_SIZE_ERROR)


@case
def data_on_idle_stream(run):
    c = run.conn()
    c.send(frame(DATA, 0, 1, grpc_message(req(name="x"))))
    expect_connection_error(run, c, PROTOCOL_ERROR)


@case
def window_update_zero_on_connection(run):
    c = run.conn()
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)))
    expect_connection_error(run, c, PROTOCOL_ERROR)


@case
def invalid_hpack_block(run):
    """An indexed field naming index 70: past the static table (61
    entries) with an empty dynamic table (RFC 7541 2.3.3)."""
    c = run.conn()
    block = header_block(c.request_headers(WORKER + "Unary"))
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, b"\xc6" + block))
    expect_connection_error(run, c, COMPRESSION_ERROR)


@case
def frame_over_max_frame_size(run):
    """A HEADERS frame declaring one byte more than the server's
    SETTINGS_MAX_FRAME_SIZE; only its start is sent, as the length alone is
    the error (RFC 9113 4.2: a field block's frame too large is a
    connection error). The server announces more than the initial 16 KiB,
    so that its peers may send it large DATA frames."""
    c = run.conn()
    c.pump(lambda: c.server_settings is not None, run.left())
    said = c.server_settings.get(SETTINGS_MAX_FRAME_SIZE, MAX_FRAME_SIZE)
    if said <= MAX_FRAME_SIZE:
        raise Failure("the server announced SETTINGS_MAX_FRAME_SIZE %d"
                      % said)
    c.send(frame(HEADERS, END_HEADERS, 1, b"\x00" * 64, length=said + 1))
    expect_connection_error(run, c, FRAME_SIZE_ERROR)


@case
def headers_on_a_lower_stream_id(run):
    """RFC 9113 5.1.1: a new stream's id is above every one the client
    opened; HEADERS on a lower, never-used id is a connection error."""
    c = run.conn()
    c.next_id = 5
    st = c.unary(WORKER + "Unary", req(name="five"))
    wait_streams(run, c, [st])
    expect_ok_reply(st, "five")
    block = header_block(c.request_headers(WORKER + "Unary"))
    c.send(frame(HEADERS, END_HEADERS, 3, block))
    expect_connection_error(run, c, PROTOCOL_ERROR)


@case
def headers_reusing_a_finished_stream_id(run):
    """A stream id used again after its stream ended: PROTOCOL_ERROR, or
    STREAM_CLOSED while the server still remembers the stream."""
    c = run.conn()
    sts = [c.unary(WORKER + "Unary", req(name="n%d" % i)) for i in range(3)]
    wait_streams(run, c, sts)
    for i, st in enumerate(sts):
        expect_ok_reply(st, "n%d" % i)
    block = header_block(c.request_headers(WORKER + "Unary"))
    c.send(frame(HEADERS, END_HEADERS, 1, block))
    expect_connection_error_in(run, c, (PROTOCOL_ERROR, STREAM_CLOSED))


def flood(run, one):
    """FLOOD copies of the frame |one| while a call waits for its request:
    GOAWAY ENHANCE_YOUR_CALM."""
    c = run.conn()
    st = c.open(WORKER + "Unary")
    c.send(one(st.id) * FLOOD)
    expect_connection_error(run, c, ENHANCE_YOUR_CALM)
    return "GOAWAY after at most %d frames" % FLOOD


@case
def empty_data_flood(run):
    return flood(run, lambda sid: frame(DATA, 0, sid))


@case
def ping_flood(run):
    return flood(run, lambda sid: frame(PING, 0, 0, b"12345678"))


@case
def priority_flood(run):
    return flood(run, lambda sid: frame(PRIORITY, 0, sid,
                                        struct.pack(">IB", 0, 15)))


@case
def unknown_frame_flood(run):
    return flood(run, lambda sid: frame(0x20, 0, sid, b"x"))


@case
def settings_flood(run):
    return flood(run, lambda sid: settings_frame())


@case
def continuation_flood(run):
    """A HEADERS frame without END_HEADERS followed by CONTINUATION frames
    that never end the block, each adding a small field (CVE-2024-27316
    class): the server stops it before it holds or decodes much, with a
    GOAWAY or by closing, instead of reading forever."""
    c = run.conn()
    sid = c.next_id
    c.next_id += 2
    c.send(frame(HEADERS, END_STREAM, sid,
                 header_block(c.request_headers(WORKER + "Unary"))))
    piece = header_block([("x-c", "v" * 20)])
    c.send(frame(CONTINUATION, 0, sid, piece) * 5000)
    expect_connection_error(run, c, ENHANCE_YOUR_CALM)
    return c.describe()


@case
def empty_headers_flood(run):
    """HEADERS frames with an empty block (no :method, no :path) on new
    streams, 3000 of them: each is a malformed request, which the server
    refuses with RST_STREAM; they take from the same budget as the frames
    that ask nothing, so the connection ends with GOAWAY ENHANCE_YOUR_CALM
    before the server has answered every one."""
    c = run.conn()
    out = bytearray()
    for i in range(FLOOD):
        out += frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, b"")
    c.send(bytes(out))
    expect_connection_error(run, c, ENHANCE_YOUR_CALM)
    resets = sum(1 for st in c.streams.values() if st.rst is not None)
    return "%d streams reset, then %s" % (resets, c.describe())


@case
def window_update_overflow_on_connection(run):
    """A WINDOW_UPDATE that takes the connection's send window past
    2^31-1: GOAWAY FLOW_CONTROL_ERROR (RFC 9113 6.9.1)."""
    c = run.conn()
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)))
    expect_connection_error(run, c, FLOW_CONTROL_ERROR)


@case
def window_update_overflow_on_stream(run):
    """The same on one stream: RST_STREAM FLOW_CONTROL_ERROR for it, and
    the connection goes on."""
    c = run.conn()
    st = c.open(LOOP + "Bidi")
    c.send(frame(WINDOW_UPDATE, 0, st.id, struct.pack(">I", 0x7FFFFFFF)))
    c.pump(lambda: st.done, run.left())
    if st.rst != FLOW_CONTROL_ERROR:
        raise Failure("want RST_STREAM FLOW_CONTROL_ERROR, got: " +
                      st.describe())
    after = c.unary(WORKER + "Unary", req(name="after"))
    wait_streams(run, c, [after])
    expect_ok_reply(after, "after")


@case
def slow_preface(run):
    """The client preface one byte every 200 ms (slowloris): the server
    closes the connection once its handshake time is over, whatever
    trickles in."""
    if not run.handshake_timeout:
        return "skipped: the server's handshake timeout is not known"
    host, port = run.target.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=run.left())
    t0 = time.monotonic()
    closed = None
    try:
        for i in range(len(PREFACE)):
            if time.monotonic() - t0 > run.handshake_timeout + 3:
                raise Failure("still open after %.1f s" %
                              (time.monotonic() - t0))
            try:
                s.send(PREFACE[i:i + 1])
            except OSError as e:
                closed = "a write failed (%s)" % e.strerror
                break
            r, _ = wait_socket(s, True, False, 0.2)
            if r:
                try:
                    if not s.recv(65536):  # the server's SETTINGS, or EOF
                        closed = "closed by the server"
                        break
                except OSError as e:
                    closed = "reset (%s)" % e.strerror
                    break
    finally:
        s.close()
    took = time.monotonic() - t0
    if closed is None:
        raise Failure("the whole preface went in over %.1f s" % took)
    if took < run.handshake_timeout * 0.9:
        raise Failure("closed after %.1f s, before the handshake time: %s"
                      % (took, closed))
    return "%s after %.1f s" % (closed, took)


@case
def slow_header_block(run):
    """A request's header block begun and left unfinished, a one-byte
    CONTINUATION every second (under nghttp2's limit of 8 per block;
    slowloris over HTTP/2: nothing else can use the connection
    meanwhile): the server closes the connection once the block has taken
    longer than its handshake time."""
    if not run.handshake_timeout:
        return "skipped: the server's handshake timeout is not known"
    c = run.conn()
    # The SETTINGS exchange first: nothing may come between the block's
    # frames, not even a SETTINGS acknowledgement.
    c.pump(lambda: c.server_settings is not None, run.left())
    c.flush(run.left())
    sid = c.next_id
    c.next_id += 2
    block = header_block(c.request_headers(WORKER + "Unary") +
                         [("x-slow", "s" * 4000)])
    c.send(frame(HEADERS, END_STREAM, sid, block[:1]))
    t0 = time.monotonic()
    i = 1
    while c.closed is None and c.goaway is None and i < len(block):
        if time.monotonic() - t0 > run.handshake_timeout + 3:
            raise Failure("still open after %.1f s" %
                          (time.monotonic() - t0))
        c.send(frame(CONTINUATION, 0, sid, block[i:i + 1]))
        i += 1
        c.pump(lambda: c.closed is not None, 1.0)
    took = time.monotonic() - t0
    if c.closed is None and c.goaway is None:
        raise Failure("the whole block went in %.1f s" % took)
    if took < run.handshake_timeout * 0.9:
        raise Failure("closed after %.1f s, before the handshake time: %s"
                      % (took, c.describe()))
    return "closed after %.1f s: %s" % (took, c.describe())


@case
def pings_along_with_data_are_fine(run):
    """1500 PINGs (past the budget's burst of 1000), each after a 1-byte
    DATA frame of the request: gRPC's BDP probes ride with data like this,
    and are not a flood."""
    c = run.conn()
    st = c.open(WORKER + "Unary")
    body = grpc_message(req(name="p", payload=b"x" * 1480))
    for i in range(len(body)):
        end = END_STREAM if i == len(body) - 1 else 0
        c.send(frame(DATA, end, st.id, body[i:i + 1]))
        c.send(frame(PING, 0, 0, b"%08d" % i))
    wait_streams(run, c, [st])
    expect_ok_reply(st, "p")
    if c.goaway is not None:
        raise Failure("GOAWAY: " + c.describe())


def expect_resource_exhausted(run, c, st):
    """A call refused for its size: grpc-status RESOURCE_EXHAUSTED, or
    RST_STREAM ENHANCE_YOUR_CALM, which gRPC clients read as
    RESOURCE_EXHAUSTED (PROTOCOL-HTTP2.md, "Errors")."""
    if st.rst is None:
        expect_status(run, c, st, RESOURCE_EXHAUSTED)
    elif st.rst != ENHANCE_YOUR_CALM:
        raise Failure("want RESOURCE_EXHAUSTED or RST_STREAM "
                      "ENHANCE_YOUR_CALM, got " + st.describe())


def metadata_of(nbytes):
    """One metadata entry that HTTP/2 counts as |nbytes|: name + value +
    32."""
    return [("x-pad", "p" * (nbytes - len("x-pad") - 32))]


@case
def header_list_limit(run):
    """Request headers just under the server's header list limit are
    served; a little over it, the call ends RESOURCE_EXHAUSTED (or its
    stream is reset: the server stops reading the block), and the
    connection serves the next call. The limit is announced in SETTINGS."""
    if not run.header_list:
        return "skipped: the server's limit is not known (--header-list)"
    c = run.conn()
    c.pump(lambda: c.server_settings is not None, run.left())
    said = c.server_settings.get(SETTINGS_MAX_HEADER_LIST_SIZE)
    if said != run.header_list:
        raise Failure("SETTINGS_MAX_HEADER_LIST_SIZE is %s, not %d" %
                      (said, run.header_list))
    base = sum(len(n) + len(v) + 32
               for n, v in c.request_headers(WORKER + "Unary"))
    under = c.open(WORKER + "Unary",
                   extra=metadata_of(run.header_list - base - 64))
    c.data(under, grpc_message(req(name="under")), end_stream=True)
    wait_streams(run, c, [under])
    expect_ok_reply(under, "under")
    over = c.open(WORKER + "Unary",
                  extra=metadata_of(run.header_list - base + 64))
    c.data(over, grpc_message(req(name="over")), end_stream=True)
    wait_streams(run, c, [over])
    expect_resource_exhausted(run, c, over)
    after = c.unary(WORKER + "Unary", req(name="after"))
    wait_streams(run, c, [after])
    expect_ok_reply(after, "after")
    return "limit %d announced and kept: %s" % (run.header_list,
                                                over.describe())


@case
def idle_frames_budget(run):
    """The server's idle-frame burst (its --idle-frames-burst): 80 % of
    it in PINGs are answered; 50 % more at once end the connection with
    GOAWAY ENHANCE_YOUR_CALM."""
    if not run.idle_frames_burst:
        return "skipped: the server's burst is not known " \
            "(--idle-frames-burst)"
    c = run.conn()
    first = run.idle_frames_burst * 8 // 10
    c.send(b"".join(frame(PING, 0, 0, b"%08d" % i) for i in range(first)))
    c.pump(lambda: c.ping_acks >= first or c.goaway is not None or
           c.closed is not None, run.left())
    if c.goaway is not None or c.closed is not None:
        raise Failure("%d PINGs, under the burst of %d: %s" %
                      (first, run.idle_frames_burst, c.describe()))
    c.send(b"".join(frame(PING, 0, 0, b"%08d" % i)
                    for i in range(run.idle_frames_burst // 2)))
    expect_connection_error(run, c, ENHANCE_YOUR_CALM)
    return "%d PINGs answered, GOAWAY within %d more" % (
        first, run.idle_frames_burst // 2)


@case
def hpack_bomb(run):
    """One 64 KiB header block that puts a 4000-byte field in the dynamic
    table once and then names it by index about 60,000 times (240 MB of
    headers from 64 KiB): the stream ends (RST_STREAM: the server stops
    reading the block at its 16 KiB limit, and nghttp2 resets a stream
    whose block it skips), for a few milliseconds of the server's CPU,
    not the time to look at every copy (80 ms before)."""
    c = run.conn()
    sid = c.next_id
    c.next_id += 2
    first = header_block(c.request_headers(WORKER + "Unary"))
    # A literal with incremental indexing, new name (RFC 7541 6.2.1), then
    # indexed fields naming dynamic index 62, the entry just added.
    block = first + b"\x40" + hpack_string("x-bomb") + hpack_string("a" * 4000)
    block += b"\xbe" * (4 * MAX_FRAME_SIZE - len(block))
    pieces = [block[i:i + MAX_FRAME_SIZE]
              for i in range(0, len(block), MAX_FRAME_SIZE)]
    cpu0 = run.cpu_seconds() if run.pid else None
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        c.send(frame(HEADERS if i == 0 else CONTINUATION,
                     (END_HEADERS if last else 0) |
                     (END_STREAM if i == 0 else 0), sid, piece))
    st = c.stream(sid)
    wait_streams(run, c, [st])
    cpu = None if cpu0 is None else run.cpu_seconds() - cpu0
    expect_resource_exhausted(run, c, st)
    if cpu is not None and cpu > 0.05 * CPU_SLACK:
        raise Failure("the server spent %.0f ms of CPU on it" % (cpu * 1000))
    return "%s, server CPU %s" % (
        st.describe(), "?" if cpu is None else "%.0f ms" % (cpu * 1000))


@case
def rapid_reset(run):
    """CVE-2023-44487: streams opened and reset at once, as fast as the
    client can. The server stops it with a GOAWAY (nghttp2's reset rate
    limit: a burst of 1000, then 33 a second; nghttp2 names it
    INTERNAL_ERROR) instead of starting handlers for ever, and its memory
    stays bounded."""
    rss0 = run.rss_kib() if run.pid else None
    c = run.conn()
    block = header_block(c.request_headers(WORKER + "Unary"))
    out = bytearray()
    for i in range(FLOOD):
        sid = 1 + 2 * i
        out += frame(HEADERS, END_HEADERS, sid, block)
        out += frame(RST_STREAM, 0, sid, struct.pack(">I", 8))  # CANCEL
    c.send(bytes(out))
    expect_connection_error_in(run, c, (ENHANCE_YOUR_CALM, INTERNAL_ERROR))
    rss1 = run.rss_kib() if run.pid else None
    grew = None if rss0 is None or rss1 is None else (rss1 - rss0) / 1024.0
    if grew is not None and grew > 32 * RSS_SLACK:
        raise Failure("RSS grew by %.1f MiB" % grew)
    return "GOAWAY before %d resets%s" % (
        FLOOD, "" if grew is None else ", RSS %+.1f MiB" % grew)


@case
def idle_connection_is_closed(run):
    """A connection with no call for the server's idle timeout (3 s, as
    check-bad-input.sh starts crpc-server) gets GOAWAY NO_ERROR naming the
    last stream it served, and is closed: idle connections hold nothing
    for ever."""
    c = run.conn()
    st = c.unary(WORKER + "Unary", req(name="then idle"))
    wait_streams(run, c, [st])
    expect_ok_reply(st, "then idle")
    t0 = time.monotonic()
    c.pump(lambda: c.closed is not None, run.left(10))
    idle = time.monotonic() - t0
    if c.goaway is None or c.goaway[1] != 0 or c.goaway[0] != st.id:
        raise Failure("want GOAWAY NO_ERROR last-stream %d, got: %s" %
                      (st.id, c.describe()))
    if c.closed is None:
        raise Failure("GOAWAY sent but the connection stayed open")
    if idle < 2.5:
        raise Failure("closed after %.1f s, before the idle timeout" % idle)
    return "GOAWAY NO_ERROR and closed after %.1f s without a call" % idle


@case
def connections_past_the_limit_are_closed(run):
    """check-bad-input.sh starts crpc-server with --max-connections 64: of
    80 connections opened at once, those past the limit are closed as
    they are accepted, before any SETTINGS; once the client lets them go,
    new connections are served again."""
    conns = [run.conn() for _ in range(80)]
    for c in conns:
        c.pump(lambda: c.server_settings is not None or c.closed is not None,
               run.left(5))
    served = sum(1 for c in conns
                 if c.server_settings is not None and c.closed is None)
    closed = sum(1 for c in conns
                 if c.server_settings is None and c.closed is not None)
    if served > 64 or closed < 16 or served + closed != 80:
        raise Failure("%d served, %d closed at accept, of 80" %
                      (served, closed))
    run.close_all()
    # The server counts a connection out when it sees it close: each
    # attempt waits for the server's answer or its close, at most 50.
    for attempt in range(50):
        try:
            check_alive(run, timeout=2)
            break
        except Failure:
            if attempt == 49:
                raise
    return "%d served, %d closed at accept" % (served, closed)


@case
def some_empty_data_is_fine(run):
    """200 empty DATA frames before a request's message: well within the
    budget, the call is answered."""
    c = run.conn()
    st = c.open(WORKER + "Unary")
    c.send(frame(DATA, 0, st.id) * 200)
    c.data(st, grpc_message(req(name="patient")), end_stream=True)
    wait_streams(run, c, [st])
    expect_ok_reply(st, "patient")


def undecodable_protobuf(run, svc):
    c = run.conn()
    st = c.open(svc + "Unary")
    c.data(st, grpc_message(b"\xff\xff\xff"), end_stream=True)
    expect_status(run, c, st, INTERNAL, http="200")


@case
def undecodable_protobuf_worker(run):
    undecodable_protobuf(run, WORKER)


@case
def undecodable_protobuf_loop(run):
    undecodable_protobuf(run, LOOP)


@case
def message_over_limit_then_next_call(run):
    """A message of 4 MiB + 1 bytes: the call fails with RESOURCE_EXHAUSTED
    and the connection serves the next call. The prefix alone says the
    size, so a server may answer before the rest comes; the rest is sent
    as flow control allows until it does, and the next call then needs the
    credit for what was sent given back on the connection."""
    c = run.conn()
    st = c.open(WORKER + "Unary")
    c.data(st, grpc_message(b"\x00" * (MAX_MESSAGE + 1)))
    expect_status(run, c, st, RESOURCE_EXHAUSTED)
    if c.goaway is not None or c.closed:
        raise Failure("connection ended: " + c.describe())
    nxt = c.unary(LOOP + "Unary", req(name="after"))
    wait_streams(run, c, [nxt])
    expect_ok_reply(nxt, "after")


@case
def unread_streams_hold_only_their_own_window(run):
    """Sixteen client streams whose handler sleeps on its first message,
    and so reads no more, are sent 6 MiB each, more than the server takes
    ahead of a handler (its 1 MiB read queue and the stream's 4 MiB
    window). They are sent first whenever a window allows, so a call on
    the same connection gets credit only once every one of them is held by
    its own window. The call must be answered: the connection's window
    goes back as DATA arrives. Were it held for unread streams, theirs
    would use it up (each holds at least half a window: 32 MiB in all,
    against the connection's 16 MiB) and the call would wait forever."""
    c = run.conn()
    bulk = grpc_message(req(name="bulk", payload=b"p" * 65536)) * 96
    held = []
    for _ in range(16):
        st = c.open(LOOP + "ClientStream")
        c.data(st, grpc_message(req(name="sleep", sleep_ms=60000)) + bulk)
        held.append(st)
    probe = c.unary(WORKER + "Unary", req(name="probe"))
    wait_streams(run, c, [probe])
    if not probe.done:
        raise Failure("no answer while the unread streams hold their "
                      "windows (connection window %d, %d streams still "
                      "sending; %s)" % (c.window,
                                        sum(1 for s in held if s.pending),
                                        c.describe()))
    expect_ok_reply(probe, "probe")
    if not all(s.pending for s in held):
        raise Failure("a sleeping stream was taken all it was sent")


@case
def content_type_text_plain(run):
    c = run.conn()
    st = c.open(WORKER + "Unary", content_type="text/plain")
    c.data(st, grpc_message(req(name="x")), end_stream=True)
    wait_streams(run, c, [st])
    if st.http_status() != "415":
        raise Failure("want HTTP :status 415, got: %s; %s" %
                      (st.describe(), c.describe()))


@case
def method_get(run):
    c = run.conn()
    st = c.open(WORKER + "Unary", method="GET", end_stream=True)
    wait_streams(run, c, [st])
    if st.http_status() != "405":
        raise Failure("want HTTP :status 405, got: %s; %s" %
                      (st.describe(), c.describe()))


@case
def unknown_method(run):
    c = run.conn()
    st = c.unary(WORKER + "NoSuchMethod", req(name="x"))
    expect_status(run, c, st, UNIMPLEMENTED, trailers_only=True, http="200")


@case
def unknown_service(run):
    c = run.conn()
    st = c.unary("/crpc.servertest.NoSuchService/Unary", req(name="x"))
    expect_status(run, c, st, UNIMPLEMENTED, trailers_only=True, http="200")


def bad_timeout(run, value):
    c = run.conn()
    st = c.unary(WORKER + "Unary", req(name="x"),
                 extra=[("grpc-timeout", value)])
    expect_status(run, c, st, INTERNAL, trailers_only=True, http="200")


@case
def grpc_timeout_not_a_number(run):
    bad_timeout(run, "abc")


@case
def grpc_timeout_nine_digits(run):
    bad_timeout(run, "123456789S")


@case
def grpc_timeout_bad_unit(run):
    bad_timeout(run, "10x")


@case
def deadlines_the_peer_never_acts_on(run):
    """Calls whose grpc-timeout passes while their handlers sleep, from a
    peer that never resets them: the server's own timers end each with
    DEADLINE_EXCEEDED, earliest deadline first, on both placements, and
    a call that ends before its deadline is answered as usual."""
    c = run.conn()
    timeouts = {"t300": "300m", "t100": "100m", "t200": "200m"}
    streams = {}
    for i, (name, timeout) in enumerate(timeouts.items()):
        svc = LOOP if i % 2 else WORKER
        streams[name] = c.unary(svc + "Unary", req(name=name, sleep_ms=20000),
                                extra=[("grpc-timeout", timeout)])
    quick = c.unary(LOOP + "Unary", req(name="quick"),
                    extra=[("grpc-timeout", "100S")])
    order = []

    def progress():
        for name, st in streams.items():
            if st.done and name not in order:
                order.append(name)
        return len(order) == len(streams) and quick.done

    c.pump(progress, run.left(5))
    for name, st in streams.items():
        expect_status(run, c, st, DEADLINE_EXCEEDED)
    if order != ["t100", "t200", "t300"]:
        raise Failure("calls ended in the order %s, want their deadlines' "
                      "order t100, t200, t300" % order)
    expect_ok_reply(quick, "quick")


@case
def length_prefix_of_4_gib(run):
    """A message prefix announcing 4 GiB - 1 bytes: RESOURCE_EXHAUSTED on
    the prefix alone, nothing buffered, and the connection goes on."""
    c = run.conn()
    st = c.open(WORKER + "Unary")
    c.data(st, b"\x00\xff\xff\xff\xff" + b"x" * 100)
    expect_status(run, c, st, RESOURCE_EXHAUSTED)
    after = c.unary(WORKER + "Unary", req(name="after"))
    wait_streams(run, c, [after])
    expect_ok_reply(after, "after")


@case
def compressed_flag_without_encoding(run):
    """The compressed flag set on a message of a request that named no
    grpc-encoding: INTERNAL (gRPC's PROTOCOL-HTTP2: a compressed message
    needs the encoding it was compressed with)."""
    c = run.conn()
    body = req(name="x")
    st = c.open(WORKER + "Unary")
    c.data(st, b"\x01" + struct.pack(">I", len(body)) + body,
           end_stream=True)
    expect_status(run, c, st, INTERNAL)


@case
def unknown_encoding(run):
    """grpc-encoding names one the server does not have: UNIMPLEMENTED,
    with the encodings it accepts in grpc-accept-encoding."""
    c = run.conn()
    st = c.unary(WORKER + "Unary", req(name="x"),
                 extra=[("grpc-encoding", "snappy")])
    expect_status(run, c, st, UNIMPLEMENTED)
    if st.header("grpc-accept-encoding") is None:
        raise Failure("no grpc-accept-encoding: " + st.describe())


@case
def gzip_bomb(run):
    """A gzip message of 10 KiB that inflates to 64 MiB, past the 4 MiB
    message limit: RESOURCE_EXHAUSTED, after inflating no more than the
    limit (a few milliseconds of CPU), not the whole bomb."""
    import zlib
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = z.compress(b"\0" * (64 << 20)) + z.flush()
    c = run.conn()
    cpu0 = run.cpu_seconds() if run.pid else None
    st = c.open(WORKER + "Unary", extra=[("grpc-encoding", "gzip")])
    c.data(st, b"\x01" + struct.pack(">I", len(bomb)) + bomb,
           end_stream=True)
    expect_status(run, c, st, RESOURCE_EXHAUSTED)
    cpu = None if cpu0 is None else run.cpu_seconds() - cpu0
    if cpu is not None and cpu > 0.1 * CPU_SLACK:
        raise Failure("the server spent %.0f ms of CPU on it" % (cpu * 1000))
    return "%d-byte bomb: %s, server CPU %s" % (
        len(bomb), st.describe(),
        "?" if cpu is None else "%.0f ms" % (cpu * 1000))


@case
def truncated_message(run):
    """The prefix declares 10 bytes; 3 come, then END_STREAM."""
    c = run.conn()
    st = c.open(WORKER + "Unary")
    c.data(st, grpc_message(b"\x0a\x01a", declared=10), end_stream=True)
    expect_status(run, c, st, INTERNAL)


@case
def unary_zero_messages(run):
    c = run.conn()
    st = c.open(LOOP + "Unary")
    c.data(st, b"", end_stream=True)
    wait_streams(run, c, [st])
    if st.grpc_status() not in UNARY_ZERO_MESSAGES:
        raise Failure("want grpc-status %s, got: %s" %
                      (sorted(UNARY_ZERO_MESSAGES), st.describe()))


@case
def unary_two_messages(run):
    c = run.conn()
    st = c.open(LOOP + "Unary")
    c.data(st, grpc_message(req(name="one")) + grpc_message(req(name="two")),
           end_stream=True)
    wait_streams(run, c, [st])
    code = st.grpc_status()
    if code not in UNARY_TWO_MESSAGES:
        raise Failure("want grpc-status %s, got: %s" %
                      (sorted(UNARY_TWO_MESSAGES), st.describe()))
    if code == OK:
        expect_ok_reply(st, "one")


@case
def peer_stops_reading(run):
    """Server streams of 2000 x 64 KiB to a peer that never reads nor
    gives flow-control credit: the server holds what flow control lets it
    and no more, and other connections are answered promptly meanwhile.
    One WorkerTest stream (it may hold a worker while blocked: the run's
    server has two) and three LoopTest streams."""
    c = run.conn(auto_window=False)
    try:
        # Read the server's SETTINGS and acknowledge them, as a live peer
        # would, before going silent.
        c.pump(lambda: c.server_settings is not None, run.left())
        rss0 = run.rss_kib() if run.pid else None
        body = grpc_message(req(name="flood", count=2000, reply_bytes=65536))
        flood = []
        for svc in (WORKER, LOOP, LOOP, LOOP):
            flood.append(c.open(svc + "ServerStream"))
            c.data(flood[-1], body, end_stream=True)
        c.flush(run.left())
        peak = rss0
        end = time.monotonic() + 3.0
        probes = 0
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                check_alive(run, timeout=2.0)
            except Failure as e:
                raise Failure("while a peer stalls, another connection: %s" %
                              e)
            took = time.monotonic() - t0
            if took > 1.5:
                raise Failure("while a peer stalls, a call took %.1fs" % took)
            probes += 1
            if run.pid:
                rss = run.rss_kib()
                if rss is not None and peak is not None:
                    peak = max(peak, rss)
            time.sleep(0.2)
        note = "%d probes answered" % probes
        if rss0 is not None and peak is not None:
            grew = (peak - rss0) / 1024.0
            if grew >= 64 * RSS_SLACK:
                raise Failure("server RSS grew by %.0f MiB (%d -> %d KiB) "
                              "for a peer that reads nothing" %
                              (grew, rss0, peak))
            note += ", RSS +%.1f MiB" % grew
        # Now read what the server managed to send, still giving no credit:
        # the streams must be stalled, not ended, and within the 65535
        # bytes of the connection's window.
        c.pump(lambda: False, run.left(0.5))
        sent = sum(len(st.data) for st in flood)
        ended = [st for st in flood if st.done]
        if ended:
            raise Failure("stream %d ended instead of waiting for the "
                          "reader: %s" % (ended[0].id, ended[0].describe()))
        if sent > 65535:
            raise Failure("server sent %d DATA bytes past a 65535-byte "
                          "window" % sent)
        if c.closed or c.goaway:
            raise Failure("the stalled connection ended: " + c.describe())
        return note + ", %d bytes sent before the stall" % sent
    finally:
        c.close()


@case
def reader_of_large_replies_that_stops(run):
    """A client asks for 100 unary replies of 1 MB (half to each service)
    and reads nothing, its flow-control windows shut: the server holds a
    bounded part of the 100 MB (handlers past max_send_buffer_bytes of
    unsent output wait to start), other clients are served meanwhile, and
    once the client reads, every call completes."""
    c = run.conn(auto_window=False)
    c.pump(lambda: c.server_settings is not None, run.left())
    rss0 = run.rss_kib() if run.pid else None
    calls = [c.unary((WORKER, LOOP)[i % 2] + "Unary",
                     req(name="big%d" % i, reply_bytes=1000000))
             for i in range(100)]
    c.flush(run.left())
    peak = rss0
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        c.pump(lambda: False, 0.2)
        if run.pid:
            peak = max(peak, run.rss_kib() or 0)
    check_alive(run, timeout=2.0)
    grew = None if rss0 is None else (peak - rss0) / 1024.0
    # (Under a sanitizer the memory is mostly the sanitizer's.)
    if grew is not None and grew > 64 and not SANITIZED:
        raise Failure("server RSS grew by %.0f MiB for 100 MB asked and "
                      "not read" % grew)
    # Now the client reads: what it got so far is given back, and from
    # here every DATA frame is.
    c.auto_window = True
    got = sum(len(st.data) for st in calls)
    if got:
        c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", got)))
    for st in calls:
        if st.data and not st.done:
            c.send(frame(WINDOW_UPDATE, 0, st.id,
                         struct.pack(">I", len(st.data))))
    wait_streams(run, c, calls, 30)
    for i, st in enumerate(calls):
        if st.grpc_status() != OK:
            raise Failure("call %d: %s" % (i, st.describe()))
        msgs = grpc_messages(st.data)
        if len(msgs) != 1 or len(msgs[0]) < 1000000:
            raise Failure("call %d: a reply of %d bytes" % (i, len(st.data)))
    return "RSS %s while not reading; all 100 answered once read" % (
        "?" if grew is None else "%+.1f MiB" % grew)


def many_streams(run, ack_first):
    """500 unary calls at once on one connection, half to each service,
    five times the server's limit of 100. Each must be answered (OK, or
    RESOURCE_EXHAUSTED if a queue is full) or refused with RST_STREAM;
    none may go unanswered. (The refusals take from the budget of frames
    that ask nothing, 600 in check-bad-input.sh's server.)"""
    c = run.conn()
    if ack_first:
        c.pump(lambda: c.server_settings is not None, run.left())
    calls = [c.unary((WORKER, LOOP)[i % 2] + "Unary", req(name="s%d" % i))
             for i in range(500)]
    c.pump(lambda: all(s.done for s in calls) or c.goaway is not None,
           run.left(20))
    limit = (c.server_settings or {}).get(SETTINGS_MAX_CONCURRENT_STREAMS)
    if c.goaway is not None:
        # Past an acknowledged limit RFC 9113 5.1.2 asks for a stream
        # error, which 5.4 lets an endpoint raise to a connection error.
        if ack_first and c.goaway[1] == PROTOCOL_ERROR and limit:
            return "GOAWAY PROTOCOL_ERROR past the limit of %d" % limit
        raise Failure("connection ended: %s (server limit %s)" %
                      (c.describe(), limit))
    answered = refused = 0
    for st in calls:
        if not st.done:
            raise Failure("stream %d unanswered: %s; %s" %
                          (st.id, st.describe(), c.describe()))
        if st.rst is not None and not st.blocks:
            if st.rst not in (REFUSED_STREAM, PROTOCOL_ERROR):
                raise Failure("stream %d: RST_STREAM %s" %
                              (st.id, error_name(st.rst)))
            refused += 1
            continue
        code = st.grpc_status()
        if code == OK:
            expect_ok_reply(st, "s%d" % ((st.id - 1) // 2))
        elif code != RESOURCE_EXHAUSTED:
            raise Failure("stream %d: %s" % (st.id, st.describe()))
        answered += 1
    return "%d answered, %d refused, server limit %s" % (answered, refused,
                                                         limit)


@case
def data_frames_as_large_as_the_client_takes(run):
    """A large message goes out in DATA frames as large as the client's
    SETTINGS_MAX_FRAME_SIZE allows (gRPC's C core announces 4 MiB), never
    larger; a client that announces nothing gets 16 KiB frames."""
    notes = []
    for path in (WORKER, LOOP):
        for announced in (MAX_FRAME_SIZE, 40000, 1 << 22):
            c = run.conn(max_frame=announced)
            # Windows wide enough that flow control does not cut frames.
            c.send(settings_frame([(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 22)]) +
                   frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 22)))
            st = c.unary(path + "Unary", req(name="big", reply_bytes=1000000))
            wait_streams(run, c, [st])
            if st.grpc_status() != OK:
                raise Failure("%s: %s" % (path, st.describe()))
            body = grpc_messages(bytes(st.data))
            if len(body) != 1 or len(pb_decode(body[0])[2][-1]) != 1000000:
                raise Failure("%s: the reply is not the 1000000 bytes asked"
                              % path)
            sizes = [e[1] for e in st.events if e[0] == "DATA"]
            if max(sizes) > announced:
                raise Failure("a %d-byte DATA frame past the %d announced" %
                              (max(sizes), announced))
            if announced > MAX_FRAME_SIZE and max(sizes) <= MAX_FRAME_SIZE:
                raise Failure("%d announced, yet no DATA frame over %d" %
                              (announced, MAX_FRAME_SIZE))
            notes.append("%d: %d frames" % (announced, len(sizes)))
            c.close()
    return ", ".join(notes[:3])


@case
def streamed_messages_arrive_whole_and_in_order(run):
    """Streams of many messages, written by handlers on the workers (other
    threads) while the loop sends, some small enough that many share a
    frame and some large: every message arrives whole, in order, byte for
    byte, whatever frames and batches the server cut them into."""
    c = run.conn(max_frame=1 << 20)
    c.send(settings_frame([(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 22)]) +
           frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 24)))
    asks = [(WORKER, 20000, 64)] * 4 + [(WORKER, 300, 20000)] * 2 + \
        [(LOOP, 300, 20000), (WORKER, 20, 300000)]
    sts = [c.unary(path + "ServerStream",
                   req(name="s", count=n, reply_bytes=size))
           for path, n, size in asks]
    wait_streams(run, c, sts, timeout=30)
    for (path, n, size), st in zip(asks, sts):
        if st.grpc_status() != OK:
            raise Failure("%s %d x %d: %s" % (path, n, size, st.describe()))
        try:
            msgs = grpc_messages(bytes(st.data))
        except ValueError as e:
            raise Failure("%s %d x %d: %s" % (path, n, size, e))
        if len(msgs) != n:
            raise Failure("%s: %d messages, want %d" % (path, len(msgs), n))
        for i, m in enumerate(msgs):
            f = pb_decode(m)
            if f.get(2, [b""])[-1] != b"x" * size or \
                    f.get(3, [0])[-1] != i:
                raise Failure("%s %d x %d: message %d is not the one sent"
                              % (path, n, size, i))
    return "%d streams" % len(sts)


@case
def many_streams_before_settings_ack(run):
    return many_streams(run, ack_first=False)


@case
def many_streams_after_settings_ack(run):
    return many_streams(run, ack_first=True)


# --- driver ---------------------------------------------------------------

def run_case(run, fn):
    note = None
    try:
        note = fn(run)
    except Failure as e:
        return "not ok - %s: %s" % (fn.__name__, e)
    except Exception as e:  # a bug here, or a server answer not foreseen
        return "not ok - %s: %s: %s" % (fn.__name__, type(e).__name__, e)
    finally:
        run.close_all()
    if run.pid and not run.server_exists():
        return "not ok - %s: the server process is gone" % fn.__name__
    try:
        check_alive(run)
    except Failure as e:
        return "not ok - %s: server not serving afterwards: %s" % (
            fn.__name__, e)
    return "ok - %s%s" % (fn.__name__, " # " + note if note else "")


def main(all_cases=None, doc=None):
    """Runs |all_cases| (default: this file's) as the command line says;
    hostile_memory.py runs its own cases through it."""
    all_cases = CASES if all_cases is None else all_cases
    ap = argparse.ArgumentParser(
        description=(doc or __doc__).split("\n\n")[0])
    ap.add_argument("--target", required=True, help="HOST:PORT")
    ap.add_argument("--pid", type=int, help="the server's pid (RSS check)")
    ap.add_argument("--only", help="comma-separated case names")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="seconds to wait for one answer")
    ap.add_argument("--header-list", type=int,
                    help="the server's header list limit, if it has one "
                    "(its --max-header-list-bytes)")
    ap.add_argument("--idle-frames-burst", type=int,
                    help="the server's idle-frame burst, if it has one "
                    "(its --idle-frames-burst)")
    ap.add_argument("--handshake-timeout", type=float,
                    help="the server's handshake timeout in seconds, if "
                    "it has one (its --handshake-timeout-ms)")
    ap.add_argument("--budget", type=float, default=55.0,
                    help="seconds the whole run may take")
    ap.add_argument("--verbose", action="store_true",
                    help="show every frame received on stderr")
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    socket.setdefaulttimeout(args.timeout)
    run = Run(args)
    cases = all_cases
    if args.only:
        names = args.only.split(",")
        cases = [fn for fn in all_cases if fn.__name__ in names]
        if len(cases) != len(names):
            sys.exit("unknown case in --only; cases: " +
                     " ".join(fn.__name__ for fn in all_cases))
    try:
        check_alive(run)
    except Failure as e:
        print("not ok - server answers a normal call: %s" % e)
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    for fn in cases:
        line = run_case(run, fn)
        print(line, flush=True)
        if line.startswith("ok"):
            passed += 1
        else:
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
