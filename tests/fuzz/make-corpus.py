#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/.

    tests/fuzz/make-corpus.py

Every seed is built here from the specifications (gRPC's length-prefixed
messages, HTTP/2 frames with HPACK literals, protobuf's wire format), except
the CodeGeneratorRequests, which protoc writes for crpc's own test protos
through a plugin that only saves its input. The output is the same on every
run: rerun it after changing a target's input format and commit the
result. Needs python3 and protoc (Debian package protobuf-compiler).
"""
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


# Protobuf and gRPC framing.

def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes(field, data):
    return varint(field << 3 | 2) + varint(len(data)) + data


def pb_varint(field, n):
    return varint(field << 3) + varint(n)


def bytes_value(data):
    """A google.protobuf.BytesValue."""
    return pb_bytes(1, data) if data else b""


def grpc_msg(payload, compressed=0):
    return struct.pack(">BI", compressed, len(payload)) + payload


def rpc_status(code, message=b"", details=()):
    """A google.rpc.Status with google.protobuf.Any details."""
    out = pb_varint(1, code) if code else b""
    if message:
        out += pb_bytes(2, message)
    for url, value in details:
        out += pb_bytes(3, pb_bytes(1, url) + pb_bytes(2, value))
    return out


# HTTP/2 (RFC 9113) and HPACK (RFC 7541): literals without indexing and
# without Huffman coding, which every decoder takes.

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 1, 1, 4, 8, 0x20
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] +
            struct.pack(">BBI", ftype, flags, stream) + payload)


def hpack_int(n, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes([first | n])
    out = bytearray([first | limit])
    n -= limit
    while n >= 128:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def hpack(fields):
    out = b""
    for name, value in fields:
        name = name.encode() if isinstance(name, str) else name
        value = value.encode() if isinstance(value, str) else value
        out += b"\x00" + hpack_int(len(name), 7) + name
        out += hpack_int(len(value), 7) + value
    return out


def headers(stream, fields, end_stream=False, flags=END_HEADERS):
    return frame(HEADERS, flags | (END_STREAM if end_stream else 0), stream,
                 hpack(fields))


def data(stream, payload, end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, stream, payload)


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v)
                                          for k, v in pairs))


def request(path, extra=(), method="POST", ctype="application/grpc"):
    fields = [(":method", method), (":scheme", "http"), (":path", path),
              (":authority", "fuzz")]
    if ctype is not None:
        fields.append(("content-type", ctype))
    return fields + [("te", "trailers")] + list(extra)


# The server target: what a client sends after the preface and an empty
# SETTINGS (fuzz_server.c adds those).

def server_seeds():
    ack = frame(SETTINGS, ACK, 0)
    unary = "/fuzz.Echo/Unary"
    msg = grpc_msg(bytes_value(b"\x00hello"))
    seeds = {
        "unary": ack + headers(1, request(unary)) + data(1, msg, True),
        "unary_one_frame": headers(1, request(unary)) + data(1, msg, True),
        "unary_empty": headers(1, request(unary)) +
        data(1, grpc_msg(b""), True),
        "unary_gzip_reply": headers(1, request(
            unary, [("grpc-accept-encoding", "identity,gzip")])) +
        data(1, grpc_msg(bytes_value(b"\x01gzip please")), True),
        "unary_gzip_request": headers(1, request(
            unary, [("grpc-encoding", "gzip"),
                    ("grpc-accept-encoding", "gzip")])) +
        data(1, grpc_msg(gz(bytes_value(b"\x01compressed")), 1), True),
        "unary_metadata": headers(1, request(
            unary, [("x-text", "value"), ("x-data-bin", "AAEC/w"),
                    ("user-agent", "fuzz/1"), ("grpc-timeout", "5S")])) +
        data(1, grpc_msg(bytes_value(b"\x06echo")), True),
        "reflection": headers(1, request(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")) +
        data(1, grpc_msg(pb_bytes(7, b"*"))) +
        data(1, grpc_msg(pb_bytes(4, b"grpc.health.v1.Health"))) +
        data(1, grpc_msg(pb_bytes(3, b"grpc/health/v1/health.proto"))) +
        data(1, grpc_msg(pb_bytes(5, pb_bytes(1, b"google.protobuf."
                                                 b"MethodOptions") +
                                  pb_varint(2, 51501)))) +
        data(1, grpc_msg(pb_bytes(6, b"google.protobuf.MethodOptions"))) +
        data(1, grpc_msg(b""), True),
        "reflection_v1alpha": headers(1, request(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")) +
        data(1, grpc_msg(pb_bytes(4, b"no.Such")), True),
        "unary_traced": headers(1, request(
            unary, [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-"
                     "b7ad6b7169203331-01"), ("tracestate", "a=1,b=2")])) +
        data(1, grpc_msg(bytes_value(b"\x06echo")), True),
        "unary_error": headers(1, request(unary)) + data(1, grpc_msg(
            bytes_value(b"\x08\x03bad argument %\xff")), True),
        "unary_split": headers(1, request(unary)) + data(1, msg[:3]) +
        data(1, msg[3:]) + data(1, b"", True),
        "unary_continuation": frame(HEADERS, 0, 1, hpack(request(unary))[:20]) +
        frame(CONTINUATION, END_HEADERS, 1, hpack(request(unary))[20:]) +
        data(1, msg, True),
        "unary_padded": frame(DATA, 0, 0, b"") + headers(1, request(unary)) +
        frame(DATA, PADDED | END_STREAM, 1, b"\x04" + msg + b"\x00" * 4),
        "unary_priority": frame(HEADERS, END_HEADERS | PRIO, 1,
                                b"\x00\x00\x00\x00\x10" +
                                hpack(request(unary))) +
        frame(PRIORITY, 0, 1, b"\x00\x00\x00\x00\x20") + data(1, msg, True),
        "unary_reset": headers(1, request(unary)) +
        frame(RST_STREAM, 0, 1, struct.pack(">I", 8)),
        "unary_reply_too_big": headers(1, request(
            unary, [("grpc-encoding", "gzip")])) +
        data(1, grpc_msg(gz(bytes_value(b"\x00" + b"r" * 20000)), 1), True),
        "unary_too_big": headers(1, request(unary)) +
        data(1, struct.pack(">BI", 0, 1 << 20), True),
        "unary_bad_flag": headers(1, request(unary)) +
        data(1, b"\x02" + msg[1:], True),
        "unary_two_messages": headers(1, request(unary)) +
        data(1, msg + msg, True),
        "unary_no_message": headers(1, request(unary), True),
        "server_streaming": headers(1, request("/fuzz.Echo/ServerStreaming")) +
        data(1, grpc_msg(bytes_value(b"\x37stream")), True),
        "client_streaming": headers(1, request("/fuzz.Echo/ClientStreaming")) +
        data(1, msg) + data(1, msg + msg) + data(1, b"", True),
        "bidi_streaming": headers(1, request("/fuzz.Echo/BidiStreaming")) +
        data(1, grpc_msg(bytes_value(b"\x04one"))) +
        data(1, grpc_msg(bytes_value(b"\x02two")), True),
        "bidi_half_open": headers(1, request("/fuzz.Echo/BidiStreaming")) +
        data(1, msg),
        "three_streams": headers(1, request(unary)) +
        headers(3, request("/fuzz.Echo/ServerStreaming")) +
        headers(5, request("/fuzz.Echo/BidiStreaming")) +
        data(3, msg, True) + data(1, msg, True) + data(5, msg, True),
        "unknown_method": headers(1, request("/fuzz.Echo/Nope")) +
        data(1, msg, True),
        "unknown_service": headers(1, request("/no.Such/Method")) +
        data(1, msg, True),
        "health_check": headers(1, request("/grpc.health.v1.Health/Check")) +
        data(1, grpc_msg(b""), True),
        "health_watch": headers(1, request("/grpc.health.v1.Health/Watch")) +
        data(1, grpc_msg(pb_bytes(1, b"fuzz.Echo")), True),
        "get": headers(1, request(unary, method="GET"), True),
        "not_grpc": headers(1, request(unary, ctype="text/plain")) +
        data(1, msg, True),
        "no_path": headers(1, [(":method", "POST"), (":scheme", "http"),
                               ("content-type", "application/grpc")]) +
        data(1, msg, True),
        "bad_timeout": headers(1, request(unary, [("grpc-timeout", "1x")])) +
        data(1, msg, True),
        "bad_encoding": headers(1, request(unary,
                                           [("grpc-encoding", "br")])) +
        data(1, msg, True),
        "big_header": headers(1, request(unary, [("x-big", "v" * 2000)])) +
        data(1, msg, True),
        "ping_window_goaway": frame(PING, 0, 0, b"12345678") +
        frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 20)) +
        headers(1, request(unary)) +
        frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 4096)) +
        data(1, msg, True) + frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)),
        "settings_small_window": settings((4, 1), (5, 16384), (1, 0)) +
        headers(1, request("/fuzz.Echo/ServerStreaming")) +
        data(1, grpc_msg(bytes_value(b"\x30" + b"x" * 100)), True),
        "trailers_from_client": headers(1, request(
            "/fuzz.Echo/ClientStreaming")) + data(1, msg) +
        headers(1, [("x-trailer", "t")], True),
        "stream_id_reused": headers(3, request(unary)) +
        data(3, msg, True) + headers(1, request(unary)),
        "unknown_frame": frame(0x42, 0, 0, b"ext") +
        headers(1, request(unary)) + data(1, msg, True),
    }
    for name, seed in seeds.items():
        write("server", name, seed)


# The client target: a mode byte, then what a server sends after its
# SETTINGS (fuzz_client.c adds those), to the call on stream 1.

def client_seeds():
    ack = frame(SETTINGS, ACK, 0)
    ok_headers = [(":status", "200"), ("content-type", "application/grpc")]
    msg = grpc_msg(bytes_value(b"reply"))
    ok_trailers = [("grpc-status", "0")]
    seeds = {
        "ok": ack + headers(1, ok_headers) + data(1, msg) +
        headers(1, ok_trailers, True),
        "ok_metadata": ack + headers(1, ok_headers + [
            ("x-h", "header"), ("x-h-bin", "AQID")]) + data(1, msg) +
        headers(1, ok_trailers + [("x-t", "trailer")], True),
        "ok_gzip": ack + headers(1, ok_headers + [("grpc-encoding", "gzip")]) +
        data(1, grpc_msg(gz(bytes_value(b"reply")), 1)) +
        headers(1, ok_trailers, True),
        "ok_split": ack + headers(1, ok_headers) + data(1, msg[:4]) +
        data(1, msg[4:]) + headers(1, ok_trailers, True),
        "trailers_only": ack + headers(1, ok_headers + [
            ("grpc-status", "5"), ("grpc-message", "not %41 found%")], True),
        "error_details": ack + headers(1, ok_headers) + headers(1, [
            ("grpc-status", "3"), ("grpc-message", "bad"),
            ("grpc-status-details-bin",
             __import__("base64").b64encode(rpc_status(
                 3, b"bad", [(b"type.googleapis.com/x", b"\x08\x01")]))
             .decode().rstrip("="))], True),
        "http_503": ack + headers(1, [(":status", "503")], True),
        "not_grpc": ack + headers(1, [(":status", "200"),
                                      ("content-type", "text/html")]) +
        data(1, b"<html>", True),
        "no_status": ack + headers(1, ok_headers) + data(1, msg, True),
        "cut_message": ack + headers(1, ok_headers) + data(1, msg[:6]) +
        headers(1, ok_trailers, True),
        "two_messages": ack + headers(1, ok_headers) + data(1, msg + msg) +
        headers(1, ok_trailers, True),
        "too_big": ack + headers(1, ok_headers) +
        data(1, struct.pack(">BI", 0, 64 << 20)) + headers(1, ok_trailers,
                                                           True),
        "bad_encoding": ack + headers(1, ok_headers + [("grpc-encoding", "x")]) +
        data(1, grpc_msg(b"zz", 1)) + headers(1, ok_trailers, True),
        "rst": ack + headers(1, ok_headers) +
        frame(RST_STREAM, 0, 1, struct.pack(">I", 7)),
        "goaway": ack + frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)),
        "goaway_error": ack + headers(1, ok_headers) +
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 2) + b"why"),
        "ping_window": ack + frame(PING, 0, 0, b"abcdefgh") +
        frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 100)) +
        headers(1, ok_headers) + data(1, msg) +
        headers(1, ok_trailers, True),
        "push_promise": ack + frame(PUSH_PROMISE, END_HEADERS, 1,
                                    struct.pack(">I", 2) +
                                    hpack(request("/x"))),
        "settings_change": settings((3, 0), (4, 65535), (6, 100)) + ack +
        headers(1, ok_headers) + data(1, msg) +
        headers(1, ok_trailers, True),
        "continuation": ack + frame(HEADERS, 0, 1, hpack(ok_headers)[:10]) +
        frame(CONTINUATION, END_HEADERS, 1, hpack(ok_headers)[10:]) +
        data(1, msg) + headers(1, ok_trailers, True),
        "big_headers": ack + headers(1, ok_headers + [("x-big", "b" * 3000)]) +
        data(1, msg) + headers(1, ok_trailers, True),
        "wrong_stream": ack + headers(3, ok_headers) + data(3, msg),
        "data_before_headers": ack + data(1, msg) +
        headers(1, ok_trailers, True),
    }
    # fuzz_client.c's first byte: 0 a unary call, 1 server-streaming, 2 a
    # gzip request, 4 request metadata.
    for name, seed in seeds.items():
        write("client", name, b"\x00" + seed)
    stream = ack + headers(1, ok_headers) + data(1, msg) + data(1, msg + msg)
    write("client", "stream", b"\x01" + stream +
          headers(1, ok_trailers, True))
    write("client", "stream_gzip_metadata", b"\x07" + stream +
          headers(1, ok_trailers, True))
    write("client", "stream_cut", b"\x01" + stream)
    write("client", "stream_error", b"\x01" + stream +
          headers(1, [("grpc-status", "14")], True))


def frame_seeds():
    """fuzz_frame.c: a mode byte (chunking, encoding, type), then
    messages."""
    bv = grpc_msg(bytes_value(b"hello"))
    # google.protobuf.Type: name, a field (kind, number, name), an option.
    field = pb_varint(1, 9) + pb_varint(3, 1) + pb_bytes(4, b"f")
    gtype = pb_bytes(1, b"T") + pb_bytes(2, field) + pb_bytes(3, b"oneof")
    seeds = {
        "one": b"\x07" + bv,
        "one_bytewise": b"\x00" + bv,
        "three": b"\x02" + bv + grpc_msg(b"") + bv,
        "empty": b"\x07" + grpc_msg(b""),
        "gzip": b"\x0f" + grpc_msg(gz(bytes_value(b"zipped" * 10)), 1),
        "gzip_chunks": b"\x0b" + grpc_msg(gz(bytes_value(b"a")), 1) + bv,
        "compressed_identity": b"\x07" + grpc_msg(b"x", 1),
        "gzip_bomb": b"\x0f" + grpc_msg(gz(b"\x0a\x80\x80\x08" +
                                           b"\x00" * 200000), 1),
        "too_big": b"\x07" + struct.pack(">BI", 0, 1 << 20),
        "bad_flag": b"\x07" + b"\x05" + bv[1:],
        "truncated": b"\x07" + bv[:7],
        "type": b"\x17" + grpc_msg(gtype),
        "type_gzip": b"\x1f" + grpc_msg(gz(gtype), 1),
    }
    for name, seed in seeds.items():
        write("frame", name, seed)


def compress_seeds():
    seeds = {
        "text": gz(b"hello, world"),
        "empty": gz(b""),
        "message": gz(bytes_value(b"x" * 300)),
        "bomb": gz(b"\x00" * 100000),
        "two_members": gz(b"a") + gz(b"b"),
        "trailing": gz(b"a") + b"junk",
        "truncated": gz(b"truncated member")[:-5],
        "accept": b"identity, gzip,deflate",
        "accept_spaces": b" gzip\t,,identity ",
        "name": b"GZip",
    }
    for name, seed in seeds.items():
        write("compress", name, seed)


def text_seeds():
    for name, seed in {"seconds": b"5S", "hours": b"99999999H",
                       "nanos": b"1n", "micros": b"250u", "millis": b"100m",
                       "minutes": b"3M", "nine": b"123456789S", "empty": b"",
                       "unit_only": b"S", "sign": b"-1S", "space": b"1 S",
                       "binary": struct.pack("<q", 123456789012)}.items():
        write("timeout", name, seed)
    for name, seed in {"plain": b"hello", "encoded": b"caf%C3%A9 %25 done",
                       "lower": b"%c3%a9", "bad": b"100% %zz %4",
                       "controls": b"%00%0A%7F", "empty": b""}.items():
        write("percent", name, seed)
    tid, pid = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    for name, seed in {"sampled": "00-%s-%s-01" % (tid, pid),
                       "later_version": "cc-%s-%s-09-what-comes" % (tid, pid),
                       "zero_trace": "00-%s-%s-00" % ("0" * 32, pid),
                       "upper": "00-%s-%s-01" % (tid.upper(), pid),
                       "short": "00-%s-%s" % (tid, pid),
                       "ff": "ff-%s-%s-01" % (tid, pid)}.items():
        write("trace", name, seed.encode())
    for name, seed in {"padded": b"aGVsbG8=", "unpadded": b"aGVsbG8",
                       "two_pad": b"aGk=", "url": b"a-_b", "bad_pad": b"a=bc",
                       "one_mod_four": b"abcde", "bits": b"aGVsbG9",
                       "empty": b"", "binary": bytes(range(64))}.items():
        write("base64", name, seed)


def target_seeds():
    for name, seed in {"host_port": b"localhost:50051", "host": b"example.test",
                       "dns": b"dns:///example.test:443",
                       "dns_authority": b"dns://8.8.8.8/example.test:80",
                       "ipv4": b"ipv4:127.0.0.1:1,10.0.0.1:2",
                       "ipv6": b"ipv6:[::1]:50051,[fe80::1]:2",
                       "bracketed": b"[::1]:443", "unix": b"unix:/tmp/s",
                       "unix_abs": b"unix:///tmp/s", "bad_port": b"h:65536",
                       "empty_port": b"h:"}.items():
        write("target", name, seed)


def fields(pairs):
    out = b""
    for name, value in pairs:
        out += bytes([len(name), len(value)]) + name + value
    return out


def metadata_seeds():
    seeds = {
        "text": [(b"x-key", b"value"), (b"x-key", b"again")],
        "binary": [(b"x-bin", b"AAEC/w"), (b"trace-bin", b"AQID")],
        "padded_binary": [(b"x-bin", b"AQ==")],
        "reserved": [(b"grpc-status", b"0"), (b"grpc-message", b"m")],
        "bad_key": [(b"X-Upper", b"v"), (b"", b"v"), (b"a b", b"v")],
        "bad_value": [(b"x-key", b"\x01\x7f"), (b"x-tab", b"a\tb")],
        "bad_base64": [(b"x-bin", b"a"), (b"x-bin", b"!!!!")],
        "pseudo": [(b":path", b"/a/b")],
    }
    for name, pairs in seeds.items():
        write("metadata", name, fields(pairs))


def status_seeds():
    seeds = {
        "code": rpc_status(5),
        "message": rpc_status(3, b"invalid argument"),
        "details": rpc_status(9, b"m", [(b"type.googleapis.com/a.B", b"\x08")]),
        "many_details": rpc_status(1, b"", [(b"u%d" % i, b"v")
                                            for i in range(6)]),
        "negative": pb_varint(1, -1),
        "unknown_fields": pb_varint(7, 1) + b"\x45abcd" + b"\x39" + b"8" * 8 +
        rpc_status(2),
        "grpc_status": b"16",
        "http_status": b"503",
        "content_type": b"application/grpc+proto",
        "truncated": rpc_status(3, b"cut")[:-1],
    }
    for name, seed in seeds.items():
        write("status", name, seed)


def grpc_headers_seeds():
    req = [(b":method", b"POST"), (b":scheme", b"http"),
           (b":path", b"/a.B/C"), (b":authority", b"h"),
           (b"content-type", b"application/grpc"), (b"te", b"trailers")]
    resp = [(b":status", b"200"), (b"content-type", b"application/grpc")]
    end = (b"", b"")
    seeds = {
        "request": b"\x00" + fields(req),
        "request_full": b"\x00" + fields(req + [
            (b"grpc-timeout", b"1S"), (b"grpc-encoding", b"gzip"),
            (b"grpc-accept-encoding", b"gzip,identity"),
            (b"x-md", b"v"), (b"x-md-bin", b"AQ"), (b"user-agent", b"u")]),
        "request_get": b"\x00" + fields([(b":method", b"GET")] + req[1:]),
        "request_bad": b"\x00" + fields(req + [
            (b"grpc-timeout", b"S"), (b"grpc-encoding", b"zz"),
            (b"X-Bad", b"v"), (b"x-bin", b"!")]),
        "request_no_path": b"\x00" + fields(req[:2] + req[3:]),
        "request_big": b"\x00" + fields(req + [(b"x-%d" % i, b"v" * 250)
                                               for i in range(60)]),
        "response": b"\x01" + fields(resp + [(b"x-h", b"1"), end,
                                             (b"grpc-status", b"0"),
                                             (b"x-t", b"2")]),
        "response_error": b"\x01" + fields(resp + [end] + [
            (b"grpc-status", b"13"), (b"grpc-message", b"bad%20thing"),
            (b"grpc-status-details-bin", b"CA0SA2JhZA")]),
        "trailers_only": b"\x03" + fields(resp + [(b"grpc-status", b"5"),
                                                  end]),
        "response_http": b"\x01" + fields([(b":status", b"404"), end]),
        "response_reset": b"\x59" + fields(resp + [end]),
        "response_cut": b"\x05" + fields(resp + [(b"grpc-encoding", b"br"),
                                                 end, (b"grpc-status", b"0")]),
    }
    for name, seed in seeds.items():
        write("grpc_headers", name, seed)


# protoc-gen-crpc's input, as protoc sends it.

def codegen_seeds():
    protoc = shutil.which("protoc")
    if not protoc:
        sys.exit("make-corpus.py: needs the program protoc (Debian package "
                 "protobuf-compiler; scripts/install-deps.sh installs it)")
    incdir = next(d for d in ("/usr/include", "/usr/local/include")
                  if os.path.exists(os.path.join(d, "protobuf-c",
                                                 "protobuf-c.proto")))
    tmp = tempfile.mkdtemp()
    try:
        plugin = os.path.join(tmp, "protoc-gen-dump")
        with open(plugin, "w") as f:
            f.write('#!/bin/sh\ncat > "$CRPC_FUZZ_DUMP"\n')
        os.chmod(plugin, 0o755)
        golden = os.path.join(ROOT, "tests", "codegen", "golden")
        cases = [
            ("golden", golden, ["everything.proto", "common/types.proto",
                                "nopkg.proto", "renamed.proto"]),
            ("greeter", os.path.join(ROOT, "examples", "greeter"),
             ["greeter.proto"]),
            ("keywords", os.path.join(ROOT, "tests", "codegen", "keywords"),
             ["keywords.proto"]),
            ("group", os.path.join(ROOT, "tests", "codegen", "bad"),
             ["group.proto"]),
            ("collision", os.path.join(ROOT, "tests", "codegen", "bad"),
             ["collision.proto"]),
        ]
        for name, cwd, protos in cases:
            out = os.path.join(tmp, name)
            subprocess.run(
                [protoc, "-I.", "-I" + os.path.join(ROOT, "proto"),
                 "-I" + incdir, "--plugin=protoc-gen-dump=" + plugin,
                 "--dump_out=" + tmp] + protos,
                cwd=cwd, check=True, env=dict(os.environ, CRPC_FUZZ_DUMP=out))
            with open(out, "rb") as f:
                write("codegen_request", name, f.read())
    finally:
        shutil.rmtree(tmp)


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    server_seeds()
    client_seeds()
    frame_seeds()
    compress_seeds()
    text_seeds()
    target_seeds()
    metadata_seeds()
    status_seeds()
    grpc_headers_seeds()
    codegen_seeds()
    total = sum(os.path.getsize(os.path.join(d, f))
                for d, _, fs in os.walk(CORPUS) for f in fs)
    print("make-corpus: %d bytes in %s" % (total, CORPUS))


if __name__ == "__main__":
    main()
