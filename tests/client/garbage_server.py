#!/usr/bin/python3
"""A gRPC server that misbehaves on request, for the client's fault tests.

It speaks HTTP/2 (python3-h2) on one port and answers any unary call whose
request is a crpc.servertest.Req (tests/server/proto/server_test.proto)
with a crpc.servertest.Rep: text "hello " + Req.name, count the serial
number of the connection (1, 2, ... in accept order), placement
"garbage-server". The request header x-garbage-mode makes it misbehave:

  ok           a normal answer (the default); x-garbage-sleep-ms delays it
  garbage      bytes that are not HTTP/2 instead of an answer; the socket
               stays open until the client closes it
  truncated    a message prefix declaring 100 bytes followed by 10, then
               END_STREAM with trailers grpc-status 0
  oversize     a message of 5 MiB (a client's default limit is 4 MiB),
               sent as flow control allows, then grpc-status 0
  notrailers   the message in a DATA frame carrying END_STREAM: no
               trailers, no grpc-status
  nostatus     the message, then trailers without grpc-status
  unavailable  a trailers-only status for the first x-garbage-fail-times
               (default 1) calls of x-garbage-key: x-garbage-fail-code
               (default 14, UNAVAILABLE) with a message naming the attempt
               ("attempt 2 of key k"); then ok, with Rep.count the
               attempt's number
  goaway       the first connection to see calls of x-garbage-key holds
               them until x-garbage-hold (default 4) have arrived (or 3 s
               passed), sends GOAWAY whose last-stream-id is that of the
               ceil(n/2)-th of them, answers those, never processes the
               others and closes once they are answered; later calls of
               the key are answered as ok wherever they arrive

A second port answers every connection with an HTTP/1.1 error response
instead of HTTP/2 (a client dialing the wrong server), keeping the socket
open until the client closes it.

Usage: garbage_server.py [--listen HOST:PORT] [--garbage-listen HOST:PORT]
Prints "listening on HOST:PORT (h2c)" and "listening on HOST:PORT
(garbage)", one line per connection and misbehaviour, and exits 0 on
SIGTERM.
"""
import argparse
import collections
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "peers", "python"))
import require  # noqa: E402
require.modules("h2")
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402

OVERSIZE = 5 * 1024 * 1024
GOAWAY_HOLD_TIMEOUT_S = 3.0
GARBAGE = (b"this is not HTTP/2\r\n" + bytes(range(256)) * 4)
HTTP1_ERROR = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
               b"Content-Length: 11\r\n\r\nbad request")


def log(fmt, *args):
    sys.stdout.write((fmt % args) + "\n")
    sys.stdout.flush()


# Protocol buffers: just what Req and Rep need.

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def decode_fields(buf):
    """{field number: last value} of a message: ints for varints, bytes for
    length-delimited fields. Raises ValueError on malformed input."""
    fields = {}
    i = 0
    try:
        while i < len(buf):
            key, i = read_varint(buf, i)
            num, wt = key >> 3, key & 7
            if wt == 0:
                fields[num], i = read_varint(buf, i)
            elif wt == 1:
                fields[num], i = buf[i:i + 8], i + 8
            elif wt == 2:
                n, i = read_varint(buf, i)
                fields[num], i = bytes(buf[i:i + n]), i + n
            elif wt == 5:
                fields[num], i = buf[i:i + 4], i + 4
            else:
                raise ValueError("wire type %d" % wt)
    except IndexError:
        raise ValueError("truncated message")
    return fields


def rep(text, count, payload=b""):
    """A serialized crpc.servertest.Rep."""
    out = bytearray()
    t = text.encode()
    out += b"\x0a" + varint(len(t)) + t
    if payload:
        out += b"\x12" + varint(len(payload)) + payload
    if count:
        out += b"\x18" + varint(count)
    p = b"garbage-server"
    out += b"\x22" + varint(len(p)) + p
    return bytes(out)


def oversize_rep():
    """A Rep of exactly OVERSIZE bytes: a payload field filling it."""
    n = OVERSIZE - 1 - len(varint(OVERSIZE))
    assert 1 + len(varint(n)) + n == OVERSIZE
    return b"\x12" + varint(n) + b"x" * n


def frame(msg):
    """A gRPC length-prefixed message."""
    return struct.pack(">BI", 0, len(msg)) + msg


def goaway_frame(last_stream_id, error_code=0):
    payload = struct.pack(">II", last_stream_id & 0x7FFFFFFF, error_code)
    return struct.pack(">I", len(payload))[1:] + bytes([7, 0]) + \
        struct.pack(">I", 0) + payload


# State shared by every connection.

class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.conns = 0
        self.attempts = collections.Counter()  # unavailable: calls per key
        self.goaway_owner = {}                 # goaway: key -> conn serial
        self.goaway_done = set()               # goaway: keys answered

    def next_conn(self):
        with self.lock:
            self.conns += 1
            return self.conns


RESPONSE_HEADERS = [(":status", "200"), ("content-type", "application/grpc")]
OK_TRAILERS = [("grpc-status", "0")]


class Stream:
    def __init__(self, sid, headers):
        self.id = sid
        self.headers = dict(headers)
        self.body = bytearray()
        self.steps = collections.deque()  # what is left to send
        self.data_off = 0                 # progress in the current data step
        self.reset = False
        self.answered = False             # steps hold the whole answer
        self.name = ""                    # Req.name
        self.hold = 0                     # goaway: calls to wait for


class Conn:
    """One HTTP/2 connection, run on its own thread: a loop that reads
    frames, answers finished requests and pumps their queued steps."""

    def __init__(self, sock, shared):
        self.sock = sock
        self.shared = shared
        self.serial = shared.next_conn()
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        self.streams = {}
        self.held = {}           # goaway: key -> [Stream], held back
        self.held_since = {}
        self.goaway_last = None  # last-stream-id once GOAWAY is sent
        self.dead = False

    # Sending.

    def flush(self):
        out = self.h2.data_to_send()
        if out:
            self.sock.sendall(out)

    def raw(self, data):
        self.flush()
        self.sock.sendall(data)

    def pump_stream(self, st):
        """Runs |st|'s steps as far as time and flow control allow."""
        while st.steps and not st.reset:
            kind, arg, end = st.steps[0]
            if kind == "wait":
                if time.monotonic() < arg:
                    return
            elif kind == "headers":
                self.h2.send_headers(st.id, arg, end_stream=end)
            elif kind == "raw":
                self.raw(arg)
            elif kind == "data":
                while st.data_off < len(arg):
                    room = min(self.h2.local_flow_control_window(st.id),
                               self.h2.max_outbound_frame_size)
                    if room <= 0:
                        return
                    chunk = arg[st.data_off:st.data_off + room]
                    st.data_off += len(chunk)
                    last = end and st.data_off == len(arg)
                    self.h2.send_data(st.id, chunk, end_stream=last)
                    self.flush()
                if end and not arg:
                    self.h2.send_data(st.id, b"", end_stream=True)
                st.data_off = 0
            st.steps.popleft()

    def pump(self):
        for st in list(self.streams.values()):
            try:
                self.pump_stream(st)
            except h2.exceptions.StreamClosedError:
                st.reset = True
            if st.reset or (st.answered and not st.steps):
                self.streams.pop(st.id, None)
        self.release_held()

    # Answers.

    def answer_ok(self, st, name, count=None, sleep_ms=0):
        steps = st.steps
        if sleep_ms > 0:
            steps.append(("wait", time.monotonic() + sleep_ms / 1000.0, False))
        steps.append(("headers", RESPONSE_HEADERS, False))
        msg = rep("hello " + name, self.serial if count is None else count)
        steps.append(("data", frame(msg), False))
        steps.append(("headers", OK_TRAILERS, True))
        st.answered = True

    def dispatch(self, st):
        h = st.headers
        mode = h.get("x-garbage-mode", "ok")
        key = h.get("x-garbage-key", "")
        try:
            body = bytes(st.body)
            if len(body) < 5:
                raise ValueError("no message")
            fields = decode_fields(body[5:])
            name = fields.get(1, b"").decode(errors="replace")
        except ValueError as e:
            log("conn %d stream %d: bad request (%s)", self.serial, st.id, e)
            st.steps.append(("headers", RESPONSE_HEADERS +
                             [("grpc-status", "13"),
                              ("grpc-message", "bad request")], True))
            st.answered = True
            return
        log("conn %d stream %d: %s %s mode=%s key=%s", self.serial, st.id,
            h.get(":path"), name, mode, key)
        if mode == "ok":
            self.answer_ok(st, name,
                           sleep_ms=int(h.get("x-garbage-sleep-ms", "0")))
        elif mode == "garbage":
            st.steps.append(("raw", GARBAGE, False))
            st.answered = True
        elif mode == "truncated":
            st.steps.append(("headers", RESPONSE_HEADERS, False))
            msg = rep("hello " + name, self.serial)[:10]
            st.steps.append(("data", struct.pack(">BI", 0, 100) + msg, False))
            st.steps.append(("headers", OK_TRAILERS, True))
            st.answered = True
        elif mode == "oversize":
            st.steps.append(("headers", RESPONSE_HEADERS, False))
            st.steps.append(("data", frame(oversize_rep()), False))
            st.steps.append(("headers", OK_TRAILERS, True))
            st.answered = True
        elif mode == "hugeheaders":
            # 100 KiB of response headers in a few hundred bytes of HPACK
            # (the encoder indexes the field once, then names it).
            st.steps.append(("headers", RESPONSE_HEADERS +
                             [("x-big", "a" * 1000)] * 100, False))
            st.steps.append(("data", frame(rep("hello " + name, self.serial)),
                             False))
            st.steps.append(("headers", OK_TRAILERS, True))
            st.answered = True
        elif mode == "gzipbomb":
            # 64 MiB of zeros in about 64 KiB of gzip, past the client's
            # 4 MiB message limit once inflated.
            z = zlib.compressobj(9, zlib.DEFLATED, 31)
            bomb = z.compress(b"\0" * (64 << 20)) + z.flush()
            st.steps.append(("headers", RESPONSE_HEADERS +
                             [("grpc-encoding", "gzip")], False))
            st.steps.append(("data", struct.pack(">BI", 1, len(bomb)) + bomb,
                             False))
            st.steps.append(("headers", OK_TRAILERS, True))
            st.answered = True
        elif mode == "hugelength":
            # A length prefix of 4 GiB - 1 and a few bytes of it.
            st.steps.append(("headers", RESPONSE_HEADERS, False))
            st.steps.append(("data", b"\x00\xff\xff\xff\xff" + b"x" * 100,
                             False))
            st.steps.append(("headers", OK_TRAILERS, True))
            st.answered = True
        elif mode == "pingflood":
            # 3000 PINGs, each asking for an answer, then a good reply.
            ping = struct.pack(">I", 8)[1:] + bytes([6, 0]) + \
                struct.pack(">I", 0) + b"flooding"
            st.steps.append(("raw", ping * 3000, False))
            st.steps.append(("headers", RESPONSE_HEADERS, False))
            st.steps.append(("data", frame(rep("hello " + name, self.serial)),
                             False))
            st.steps.append(("headers", OK_TRAILERS, True))
            st.answered = True
        elif mode == "notrailers":
            st.steps.append(("headers", RESPONSE_HEADERS, False))
            st.steps.append(("data", frame(rep("hello " + name, self.serial)),
                             True))
            st.answered = True
        elif mode == "nostatus":
            st.steps.append(("headers", RESPONSE_HEADERS, False))
            st.steps.append(("data", frame(rep("hello " + name, self.serial)),
                             False))
            st.steps.append(("headers", [("x-trailer", "present")], True))
            st.answered = True
        elif mode == "unavailable":
            fail_times = int(h.get("x-garbage-fail-times", "1"))
            fail_code = h.get("x-garbage-fail-code", "14")
            with self.shared.lock:
                self.shared.attempts[key] += 1
                attempt = self.shared.attempts[key]
            if attempt <= fail_times:
                st.steps.append(("headers", RESPONSE_HEADERS + [
                    ("grpc-status", fail_code),
                    ("grpc-message", "attempt %d of key %s" % (attempt, key))],
                    True))
                st.answered = True
            else:
                self.answer_ok(st, name, count=attempt)
        elif mode == "goaway":
            with self.shared.lock:
                owner = self.shared.goaway_owner.setdefault(key, self.serial)
                done = key in self.shared.goaway_done
            if done or owner != self.serial:
                self.answer_ok(st, name)
            else:
                self.held.setdefault(key, []).append(st)
                self.held_since.setdefault(key, time.monotonic())
                st.hold = int(h.get("x-garbage-hold", "4"))
        else:
            st.steps.append(("headers", RESPONSE_HEADERS + [
                ("grpc-status", "3"),
                ("grpc-message", "unknown x-garbage-mode %s" % mode)], True))
            st.answered = True

    def release_held(self):
        """goaway: once enough calls are held, GOAWAY with the last-stream-id
        of the first half, and answer that half."""
        for key, held in list(self.held.items()):
            hold = held[0].hold
            waited = time.monotonic() - self.held_since[key]
            if len(held) < hold and waited < GOAWAY_HOLD_TIMEOUT_S:
                continue
            held.sort(key=lambda s: s.id)
            keep = held[:(len(held) + 1) // 2]
            last = keep[-1].id
            if self.goaway_last is None or last < self.goaway_last:
                self.goaway_last = last
            self.raw(goaway_frame(last))
            log("conn %d: GOAWAY last-stream-id %d, answering %s, dropping %s",
                self.serial, last, [s.id for s in keep],
                [s.id for s in held[len(keep):]])
            for s in held[len(keep):]:
                self.streams.pop(s.id, None)
            for s in keep:
                self.answer_ok(s, s.name)
            with self.shared.lock:
                self.shared.goaway_done.add(key)
            del self.held[key]

    # Receiving.

    def on_event(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            if self.goaway_last is not None and ev.stream_id > self.goaway_last:
                log("conn %d stream %d: after GOAWAY, ignored", self.serial,
                    ev.stream_id)
                return
            self.streams[ev.stream_id] = Stream(ev.stream_id, ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            self.h2.acknowledge_received_data(ev.flow_controlled_length,
                                              ev.stream_id)
            st = self.streams.get(ev.stream_id)
            if st is not None:
                st.body += ev.data
        elif isinstance(ev, h2.events.StreamEnded):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                try:
                    st.name = decode_fields(bytes(st.body[5:])).get(
                        1, b"").decode(errors="replace")
                except ValueError:
                    pass
                self.dispatch(st)
        elif isinstance(ev, h2.events.StreamReset):
            st = self.streams.pop(ev.stream_id, None)
            if st is not None:
                st.reset = True
                log("conn %d stream %d: reset by the client (error %d)",
                    self.serial, ev.stream_id, ev.error_code)
                for held in self.held.values():
                    if st in held:
                        held.remove(st)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            log("conn %d: GOAWAY from the client (error %d)", self.serial,
                ev.error_code)
            self.dead = True

    def done_after_goaway(self):
        return (self.goaway_last is not None and
                not any(st.steps for st in self.streams.values()))

    def run(self):
        log("conn %d: accepted", self.serial)
        try:
            self.h2.initiate_connection()
            self.flush()
            while not self.dead:
                r, _, _ = select.select([self.sock], [], [], 0.02)
                if r:
                    data = self.sock.recv(65536)
                    if not data:
                        break
                    try:
                        events = self.h2.receive_data(data)
                    except h2.exceptions.ProtocolError as e:
                        log("conn %d: protocol error from the client: %s",
                            self.serial, e)
                        break
                    for ev in events:
                        self.on_event(ev)
                self.pump()
                self.flush()
                if self.done_after_goaway():
                    time.sleep(0.1)
                    break
        except OSError as e:
            log("conn %d: %s", self.serial, e)
        finally:
            log("conn %d: closed", self.serial)
            self.sock.close()


def serve_garbage(sock):
    """The other port: an HTTP/1.1 error instead of HTTP/2, then silence
    until the client goes."""
    try:
        sock.settimeout(1.0)
        try:
            sock.recv(65536)
        except socket.timeout:
            pass
        sock.sendall(HTTP1_ERROR)
        log("garbage port: sent an HTTP/1.1 response")
        sock.settimeout(30.0)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def listen(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(64)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--garbage-listen", default="127.0.0.1:0")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    shared = Shared()
    h2s = listen(args.listen)
    gs = listen(args.garbage_listen)
    log("listening on %s:%d (h2c)", *h2s.getsockname())
    log("listening on %s:%d (garbage)", *gs.getsockname())
    while True:
        r, _, _ = select.select([h2s, gs], [], [])
        for ls in r:
            sock, _ = ls.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ls is h2s:
                target = Conn(sock, shared).run
            else:
                target = lambda s=sock: serve_garbage(s)
            threading.Thread(target=target, daemon=True).start()


if __name__ == "__main__":
    main()
