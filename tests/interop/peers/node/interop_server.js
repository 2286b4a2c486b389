#!/usr/bin/env node
/*
 * A @grpc/grpc-js server of grpc.testing.TestService, gRPC's interop test
 * server.
 *
 * Every method behaves as gRPC's interop-test-descriptions.md (and
 * tests/interop's contract) says: it echoes x-grpc-test-echo-initial as a
 * response header and x-grpc-test-echo-trailing-bin as a trailer, checks
 * expect_compressed against how each request message arrived (a mismatch
 * is INVALID_ARGUMENT), ends with response_status when its code is
 * nonzero, and answers with payloads of zeros of the sizes asked for,
 * waiting interval_us before each streamed one and compressing (gzip)
 * exactly those asked to be compressed. server_id is "grpc-js-<pid>".
 * UnimplementedCall ends with UNIMPLEMENTED, as does every method of
 * grpc.testing.UnimplementedService, which is not served.
 *
 * grpc-js's server neither compresses responses nor tells a handler whether
 * a request arrived compressed, so an interceptor on its own call object
 * (internals of the pinned 1.14.7, as in tests/peers/node) does both: it
 * frames a response message gzipped when the handler marked it, and tags
 * each request message with its frame's compressed flag. The response
 * headers say grpc-encoding: gzip whenever a message of the call may be
 * compressed: for FullDuplexCall, whose later requests are not known when
 * the headers go, always.
 *
 * Usage:
 *   node interop_server.js [--port N] [--host H]
 *       [--use_tls [true|false] --tls_cert F --tls_key F] [--max_lifetime_s S]
 *
 * Once listening it prints "listening on HOST:PORT (h2c)" (or "(tls)") with
 * the port it got. SIGTERM or SIGINT cancels the calls in flight and exits
 * 0; after --max_lifetime_s (default 600), or once its parent is gone, it
 * stops the same way but exits 1, so that a forgotten server does not
 * outlive its test run for long.
 */
'use strict';

const fs = require('fs');
const zlib = require('zlib');
const { grpc, loadTesting, hostPort, usage, parseFlags } = require('./common');

const SERVER_ID = `grpc-js-${process.pid}`;
const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
const { status: Code } = grpc;
/* On a response object: frame it gzipped. On a request object: whether
 * its frame arrived compressed. */
const COMPRESS = Symbol('compress');
const ARRIVED_COMPRESSED = Symbol('arrivedCompressed');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * The interceptor: |call| is grpc-js's BaseServerInterceptingCall (the only
 * interceptor sees it directly), whose framing it wraps for this call.
 */
function compressionHooks(methodDescriptor, call) {
  for (const m of ['serializeMessage', 'decompressMessage']) {
    if (typeof call[m] !== 'function' || !call.handler) {
      throw new Error(`this grpc-js has no ${m} or handler to wrap`);
    }
  }
  const serialize = call.serializeMessage.bind(call);
  call.serializeMessage = (value) => {
    const plain = serialize(value);
    if (!value || !value[COMPRESS]) return plain;
    const body = zlib.gzipSync(plain.subarray(5));
    const out = Buffer.allocUnsafe(body.length + 5);
    out.writeUInt8(1, 0);
    out.writeUInt32BE(body.length, 1);
    body.copy(out, 5);
    return out;
  };
  // decompressMessage gets the whole frame, flag byte first, and hands the
  // bytes it returns (a new Buffer per message) to handler.deserialize.
  const decompress = call.decompressMessage.bind(call);
  call.decompressMessage = (frame, encoding) => {
    const compressed = frame.readUInt8(0) === 1;
    const tag = (bytes) => {
      bytes[ARRIVED_COMPRESSED] = compressed;
      return bytes;
    };
    const out = decompress(frame, encoding);
    return out instanceof Promise ? out.then(tag) : tag(out);
  };
  const { deserialize } = call.handler;
  call.handler = {
    ...call.handler,
    deserialize: (bytes) => {
      const msg = deserialize(bytes);
      if (msg && typeof msg === 'object') msg[ARRIVED_COMPRESSED] = bytes[ARRIVED_COMPRESSED] === true;
      return msg;
    },
  };
  return call;
}

/* The echoed header and trailer the client asked for. */
function echoOf(call) {
  const headers = new grpc.Metadata();
  const trailers = new grpc.Metadata();
  for (const v of call.metadata.get(ECHO_INITIAL)) headers.add(ECHO_INITIAL, v);
  for (const v of call.metadata.get(ECHO_TRAILING)) trailers.add(ECHO_TRAILING, v);
  return { headers, trailers };
}

/* Sends the response headers: the echo, and grpc-encoding: gzip if any
 * message of the call may go compressed. */
function sendHeaders(call, echo, gzip) {
  const md = echo.headers.clone();
  if (gzip) md.set('grpc-encoding', 'gzip');
  call.sendMetadata(md);
}

/* Why |req| fails its expect_compressed, or null. */
function compressionMismatch(req) {
  if (!req.expect_compressed) return null;
  const want = req.expect_compressed.value;
  const got = req[ARRIVED_COMPRESSED] === true;
  if (want === got) return null;
  return want ? 'expected a compressed request, got an uncompressed one'
    : 'expected an uncompressed request, got a compressed one';
}

const failure = (code, details, echo) => ({ code, details, metadata: echo.trailers });
const asked = (status) => !!(status && status.code);
const isSet = (boolValue) => !!(boolValue && boolValue.value);

function payload(size) {
  return { type: 'COMPRESSABLE', body: Buffer.alloc(size) };
}

function streamed(params) {
  const rep = { payload: payload(params.size) };
  if (isSet(params.compressed)) rep[COMPRESS] = true;
  return rep;
}

/* Writes one response per ResponseParameters of |req|, each after its
 * interval; false if the call went away meanwhile. */
async function sendEach(call, req) {
  for (const p of req.response_parameters) {
    if (p.interval_us > 0) await sleep(p.interval_us / 1000);
    if (call.cancelled) return false;
    call.write(streamed(p));
  }
  return true;
}

/*
 * Answers the requests of a FullDuplexCall in order as they come or, when
 * |buffered| (HalfDuplexCall), all of them once the client has half-closed,
 * after headers that know whether any answer goes compressed.
 */
function duplex(call, echo, buffered) {
  const held = [];
  let chain = Promise.resolve();
  let ended = false;
  const answer = async (req) => {
    if (ended || call.cancelled) return;
    if (asked(req.response_status)) {
      ended = true;
      call.emit('error', failure(req.response_status.code, req.response_status.message, echo));
      return;
    }
    if (!(await sendEach(call, req))) ended = true;
  };
  call.on('data', (req) => {
    if (buffered) held.push(req);
    else chain = chain.then(() => answer(req));
  });
  call.on('error', () => {});
  call.on('end', () => {
    if (buffered) {
      sendHeaders(call, echo, held.some((r) => r.response_parameters.some((p) => isSet(p.compressed))));
      for (const req of held) chain = chain.then(() => answer(req));
    }
    chain = chain.then(() => { if (!ended && !call.cancelled) call.end(echo.trailers); });
  });
}

const testService = {
  EmptyCall(call, callback) {
    const echo = echoOf(call);
    sendHeaders(call, echo, false);
    callback(null, {}, echo.trailers);
  },

  UnaryCall(call, callback) {
    const req = call.request;
    const echo = echoOf(call);
    const gzip = isSet(req.response_compressed);
    sendHeaders(call, echo, gzip);
    const bad = compressionMismatch(req);
    if (bad) {
      callback(failure(Code.INVALID_ARGUMENT, bad, echo));
      return;
    }
    if (asked(req.response_status)) {
      callback(failure(req.response_status.code, req.response_status.message, echo));
      return;
    }
    const rep = { payload: payload(req.response_size) };
    if (req.fill_server_id) rep.server_id = SERVER_ID;
    if (gzip) rep[COMPRESS] = true;
    callback(null, rep, echo.trailers);
  },

  async StreamingOutputCall(call) {
    const req = call.request;
    const echo = echoOf(call);
    sendHeaders(call, echo, req.response_parameters.some((p) => isSet(p.compressed)));
    call.on('error', () => {});
    if (!(await sendEach(call, req))) return;
    if (asked(req.response_status)) {
      call.emit('error', failure(req.response_status.code, req.response_status.message, echo));
    } else {
      call.end(echo.trailers);
    }
  },

  StreamingInputCall(call, callback) {
    const echo = echoOf(call);
    sendHeaders(call, echo, false);
    let total = 0;
    let failed = false;
    call.on('data', (req) => {
      if (failed) return;
      const bad = compressionMismatch(req);
      if (bad) {
        failed = true;
        callback(failure(Code.INVALID_ARGUMENT, bad, echo));
        return;
      }
      total += req.payload ? req.payload.body.length : 0;
    });
    call.on('error', () => {});
    call.on('end', () => {
      if (!failed) callback(null, { aggregated_payload_size: total }, echo.trailers);
    });
  },

  FullDuplexCall(call) {
    const echo = echoOf(call);
    sendHeaders(call, echo, true);
    duplex(call, echo, false);
  },

  HalfDuplexCall(call) {
    duplex(call, echoOf(call), true);
  },

  UnimplementedCall(call, callback) {
    const echo = echoOf(call);
    sendHeaders(call, echo, false);
    callback(failure(Code.UNIMPLEMENTED, 'UnimplementedCall is not implemented', echo));
  },
};
testService.CacheableUnaryCall = testService.UnaryCall;

function serverCredentials(a) {
  if (!a.use_tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(null,
    [{ private_key: fs.readFileSync(a.tls_key), cert_chain: fs.readFileSync(a.tls_cert) }], false);
}

function main() {
  const a = parseFlags(process.argv.slice(2), {
    port: '0', host: '127.0.0.1', use_tls: false, tls_cert: '', tls_key: '', max_lifetime_s: '600',
  }, __filename);
  const prog = 'interop_server.js';
  if (a.use_tls && !(a.tls_cert && a.tls_key)) usage(prog, '--use_tls needs --tls_cert and --tls_key');
  const port = Number(a.port);
  const lifetime = Number(a.max_lifetime_s);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(prog, '--port needs a port number');
  if (!(lifetime > 0)) usage(prog, '--max_lifetime_s needs a positive number');

  const server = new grpc.Server({ interceptors: [compressionHooks] });
  server.addService(loadTesting().TestService.service, testService);
  const where = hostPort(a.host, port);
  server.bindAsync(where, serverCredentials(a), (err, bound) => {
    if (err) {
      process.stderr.write(`${prog}: cannot listen on ${where}: ${err.message}\n`);
      process.exit(1);
    }
    console.log(`listening on ${hostPort(a.host, bound)} (${a.use_tls ? 'tls' : 'h2c'})`);
  });

  const stop = (rc) => {
    server.forceShutdown();
    process.exit(rc);
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  setTimeout(() => {
    process.stderr.write(`${prog}: stopping after --max_lifetime_s ${lifetime}\n`);
    stop(1);
  }, lifetime * 1000).unref();
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop(1);
  }, 1000).unref();
}

main();
