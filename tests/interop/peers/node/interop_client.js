#!/usr/bin/env node
/*
 * gRPC's interop test client with @grpc/grpc-js: the cases of gRPC's
 * interop-test-descriptions.md against a grpc.testing.TestService server.
 *
 * Usage:
 *   node interop_client.js --server_port P [--server_host H]
 *       [--test_case all|NAME[,NAME...]] [--use_tls [true|false]
 *       [--ca_file F] [--server_host_override NAME]]
 *
 * "all" is the 16 standard cases; client_compressed_unary_noprobe (for
 * servers that cannot tell a compressed request from a plain one) and
 * server_id (10 calls, the server ids seen and how many calls each got)
 * run only when named. Prints "ok - CASE" or "not ok - CASE: reason" per
 * case and then "N passed, M failed"; exits 1 if a case failed. Every call
 * has a deadline.
 *
 * grpc-js shows no message's compressed flag, so the compression cases
 * make their calls on channels of their own through a loopback relay that
 * counts the bytes each way: 271828 zeros gzipped take a few hundred bytes,
 * plain ones more than 271828 (with TLS, the records tell the same).
 */
'use strict';

const fs = require('fs');
const { grpc, codeName, loadTesting, hostPort, usage, parseFlags } = require('./common');
const { CountingProxy } = require('../../../peers/node/proxy');

const STANDARD = [
  'empty_unary', 'large_unary', 'client_compressed_unary', 'server_compressed_unary',
  'client_streaming', 'server_streaming', 'ping_pong', 'empty_stream',
  'status_code_and_message', 'special_status_message', 'unimplemented_method',
  'unimplemented_service', 'cancel_after_begin', 'cancel_after_first_response',
  'timeout_on_sleeping_server', 'custom_metadata'];
const EXTRA = ['client_compressed_unary_noprobe', 'server_id'];
const CALL_TIMEOUT_MS = 30000;
const CASE_TIMEOUT_MS = 90000;
// A compressed message of zeros costs well under this on the wire; a
// plain one of the sizes used here, more than it.
const COMPRESSED_MAX_BYTES = 65536;
const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_INITIAL_VALUE = 'test_initial_metadata_value';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
const ECHO_TRAILING_VALUE = Buffer.from([0xab, 0xab, 0xab]);
const SPECIAL_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1f608}\t\n';
const { status: Code } = grpc;

class Failure extends Error {}

function check(cond, reason) {
  if (!cond) throw new Failure(reason);
}

const deadline = (ms = CALL_TIMEOUT_MS) => ({ deadline: Date.now() + ms });
const zeros = (n) => ({ type: 'COMPRESSABLE', body: Buffer.alloc(n) });
const statusText = (s) => `${codeName(s.code)} (${JSON.stringify(s.details)})`;

/* Checks that |p| is |n| zero bytes; |what| names it in the reason. */
function checkZeros(p, n, what) {
  const body = p ? p.body : null;
  check(body && body.length === n, `${what}: ${body ? body.length : 'no'} payload bytes, want ${n}`);
  check(body.every((b) => b === 0), `${what}: the payload is not all zeros`);
}

/* Awaits a unary call: resolves {rep, headers, trailers} once the status
 * is in, rejects with the error (code, details, metadata). */
function unary(stub, method, req, { md, opts } = {}) {
  return new Promise((resolve, reject) => {
    let headers = null;
    let result;
    const call = stub[method](req, md || new grpc.Metadata(), opts || deadline(),
      (err, rep) => { result = { err, rep }; });
    call.on('metadata', (m) => { headers = m; });
    call.on('status', (s) => {
      if (result.err) reject(result.err);
      else resolve({ rep: result.rep, headers, trailers: s.metadata });
    });
  });
}

/* Expects |promise| (a unary call) to fail with |code|; returns the error. */
async function expectError(code, promise) {
  let rep;
  try {
    rep = await promise;
  } catch (e) {
    check(e.code === code, `got ${statusText(e)}, want ${codeName(code)}`);
    return e;
  }
  throw new Failure(`the call succeeded (${rep ? 'with a response' : 'empty'}), want ${codeName(code)}`);
}

/* A streaming call whose responses are read one at a time with next(),
 * which resolves {rep} or, once the call is over, {status}. */
function reader(call) {
  const queue = [];
  const waiters = [];
  let end = null;
  let headers = null;
  const push = (item) => (waiters.length ? waiters.shift()(item) : queue.push(item));
  call.on('data', (r) => push({ rep: r }));
  call.on('metadata', (m) => { headers = m; });
  call.on('error', () => {});
  call.on('status', (s) => {
    end = { status: s };
    while (waiters.length) waiters.shift()(end);
  });
  return {
    call,
    headers: () => headers,
    next: () => (queue.length ? Promise.resolve(queue.shift())
      : end ? Promise.resolve(end) : new Promise((r) => waiters.push(r))),
  };
}

/* Reads the next response of |r|; fails if the call ended instead. */
async function nextResponse(r, what) {
  const item = await r.next();
  if (item.status) throw new Failure(`${what}: the call ended ${statusText(item.status)} instead`);
  return item.rep;
}

/* Reads what is left of |r|: fails on a response; returns the status. */
async function finish(r, what) {
  const item = await r.next();
  check(!item.rep, `${what}: a response more than expected`);
  return item.status;
}

function checkEcho(headers, trailers, what) {
  const h = headers ? headers.get(ECHO_INITIAL) : [];
  check(h.length === 1 && h[0] === ECHO_INITIAL_VALUE,
    `${what}: header ${ECHO_INITIAL} is ${JSON.stringify(h)}, want ["${ECHO_INITIAL_VALUE}"]`);
  const t = trailers ? trailers.get(ECHO_TRAILING) : [];
  const hex = JSON.stringify(t.map((v) => Buffer.from(v).toString('hex')));
  check(t.length === 1 && Buffer.isBuffer(t[0]) && t[0].equals(ECHO_TRAILING_VALUE),
    `${what}: trailer ${ECHO_TRAILING} is ${hex}, want ["ababab"]`);
}

class Cases {
  constructor(a, testing) {
    this.a = a;
    this.testing = testing;
    this.creds = a.use_tls
      ? grpc.credentials.createSsl(a.ca_file ? fs.readFileSync(a.ca_file) : null)
      : grpc.credentials.createInsecure();
    this.stubs = [];
    this.relays = [];
    this.stub = this.newStub('TestService');
  }

  /* A stub on a channel of its own, to the server or to |relayPort|. */
  newStub(service, { relayPort, extra } = {}) {
    const options = { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_retries': 0, ...extra };
    if (this.a.use_tls) {
      const name = this.a.server_host_override || this.a.server_host;
      options['grpc.ssl_target_name_override'] = name;
      options['grpc.default_authority'] = name;
    }
    const target = relayPort ? `127.0.0.1:${relayPort}` : hostPort(this.a.server_host, this.a.server_port);
    const stub = new this.testing[service](target, this.creds, options);
    this.stubs.push(stub);
    return stub;
  }

  /* A TestService stub through a new counting relay; |gzip| makes it
   * compress its requests. Each is new: grpc-js stops compressing on a
   * channel once a server's grpc-accept-encoding seems not to list gzip. */
  async relayed(gzip) {
    const relay = new CountingProxy(hostPort(this.a.server_host, this.a.server_port));
    this.relays.push(relay);
    await relay.listen();
    const extra = gzip ? { 'grpc.default_compression_algorithm': 2 /* gzip */ } : {};
    return { relay, stub: this.newStub('TestService', { relayPort: relay.port, extra }) };
  }

  close() {
    for (const s of this.stubs) s.close();
    for (const r of this.relays) r.close();
  }

  async empty_unary() {
    const { rep } = await unary(this.stub, 'EmptyCall', {});
    check(rep && Object.keys(rep).length === 0, `response ${JSON.stringify(rep)}, want an Empty`);
  }

  async large_unary() {
    const { rep } = await unary(this.stub, 'UnaryCall',
      { response_size: 314159, payload: zeros(271828) });
    checkZeros(rep.payload, 314159, 'response');
  }

  /* The probe: a plain request that expects to have been compressed. */
  async compressionProbe() {
    await expectError(Code.INVALID_ARGUMENT, unary(this.stub, 'UnaryCall', {
      expect_compressed: { value: true }, response_size: 314159, payload: zeros(271828),
    })).catch((e) => {
      throw new Failure(`probe (a plain request with expect_compressed=true): ${e.message}`);
    });
  }

  async compressedRequests() {
    const { relay, stub } = await this.relayed(true);
    const { rep } = await unary(stub, 'UnaryCall', {
      expect_compressed: { value: true }, response_size: 314159, payload: zeros(271828),
    }).catch((e) => {
      throw new Failure(`compressed request with expect_compressed=true: ${statusText(e)}`);
    });
    checkZeros(rep.payload, 314159, 'compressed request');
    check(relay.up < COMPRESSED_MAX_BYTES,
      `the compressed request took ${relay.up} bytes to the server: grpc-js did not compress it`);
    const plain = await unary(this.stub, 'UnaryCall', {
      expect_compressed: { value: false }, response_size: 314159, payload: zeros(271828),
    }).catch((e) => {
      throw new Failure(`plain request with expect_compressed=false: ${statusText(e)}`);
    });
    checkZeros(plain.rep.payload, 314159, 'plain request');
  }

  async client_compressed_unary() {
    await this.compressionProbe();
    await this.compressedRequests();
  }

  async client_compressed_unary_noprobe() {
    await this.compressedRequests();
  }

  async server_compressed_unary() {
    for (const compressed of [true, false]) {
      const what = `response_compressed=${compressed}`;
      const { relay, stub } = await this.relayed(false);
      const { rep } = await unary(stub, 'UnaryCall', {
        response_compressed: { value: compressed }, response_size: 314159, payload: zeros(271828),
      }).catch((e) => { throw new Failure(`${what}: ${statusText(e)}`); });
      checkZeros(rep.payload, 314159, what);
      if (compressed) {
        check(relay.down < COMPRESSED_MAX_BYTES,
          `${what}: the response took ${relay.down} bytes on the wire: not compressed`);
      } else {
        check(relay.down > 314159,
          `${what}: the response took ${relay.down} bytes on the wire: compressed`);
      }
    }
  }

  client_streaming() {
    return new Promise((resolve, reject) => {
      const call = this.stub.StreamingInputCall(new grpc.Metadata(), deadline(), (err, rep) => {
        if (err) reject(new Failure(`the call ended ${statusText(err)}`));
        else if (rep.aggregated_payload_size !== 74922) {
          reject(new Failure(`aggregated_payload_size ${rep.aggregated_payload_size}, want 74922`));
        } else resolve();
      });
      for (const n of [27182, 8, 1828, 45904]) call.write({ payload: zeros(n) });
      call.end();
    });
  }

  async server_streaming() {
    const sizes = [31415, 9, 2653, 58979];
    const r = reader(this.stub.StreamingOutputCall({
      response_parameters: sizes.map((size) => ({ size })),
    }, new grpc.Metadata(), deadline()));
    for (const [i, n] of sizes.entries()) {
      checkZeros((await nextResponse(r, `response ${i}`)).payload, n, `response ${i}`);
    }
    const status = await finish(r, 'after 4 responses');
    check(status.code === Code.OK, `the call ended ${statusText(status)}, want OK`);
  }

  async ping_pong() {
    const r = reader(this.stub.FullDuplexCall(new grpc.Metadata(), deadline()));
    try {
      for (const [size, body] of [[31415, 27182], [9, 8], [2653, 1828], [58979, 45904]]) {
        r.call.write({ response_parameters: [{ size }], payload: zeros(body) });
        checkZeros((await nextResponse(r, `response of ${size}`)).payload, size, `response of ${size}`);
      }
      r.call.end();
      const status = await finish(r, 'after the half-close');
      check(status.code === Code.OK, `the call ended ${statusText(status)}, want OK`);
    } finally {
      r.call.cancel();
    }
  }

  async empty_stream() {
    const r = reader(this.stub.FullDuplexCall(new grpc.Metadata(), deadline()));
    r.call.end();
    const status = await finish(r, 'after the half-close');
    check(status.code === Code.OK, `the call ended ${statusText(status)}, want OK`);
  }

  async expectStatus(message) {
    const status = { code: 2, message };
    const e = await expectError(Code.UNKNOWN, unary(this.stub, 'UnaryCall', { response_status: status }))
      .catch((err) => { throw new Failure(`UnaryCall: ${err.message}`); });
    check(e.details === message, `UnaryCall: message ${JSON.stringify(e.details)}, want ${JSON.stringify(message)}`);
    return status;
  }

  async status_code_and_message() {
    const status = await this.expectStatus('test status message');
    const r = reader(this.stub.FullDuplexCall(new grpc.Metadata(), deadline()));
    r.call.write({ response_status: status });
    r.call.end();
    const s = await finish(r, 'FullDuplexCall');
    check(s.code === Code.UNKNOWN && s.details === status.message,
      `FullDuplexCall ended ${statusText(s)}, want UNKNOWN (${JSON.stringify(status.message)})`);
  }

  async special_status_message() {
    await this.expectStatus(SPECIAL_MESSAGE);
  }

  async unimplemented_method() {
    await expectError(Code.UNIMPLEMENTED, unary(this.stub, 'UnimplementedCall', {}));
  }

  async unimplemented_service() {
    const stub = this.newStub('UnimplementedService');
    await expectError(Code.UNIMPLEMENTED, unary(stub, 'UnimplementedCall', {}));
  }

  cancel_after_begin() {
    return new Promise((resolve, reject) => {
      const call = this.stub.StreamingInputCall(new grpc.Metadata(), deadline(), (err) => {
        if (!err) reject(new Failure('the call succeeded, want CANCELLED'));
        else if (err.code !== Code.CANCELLED) reject(new Failure(`got ${statusText(err)}, want CANCELLED`));
        else resolve();
      });
      call.cancel();
    });
  }

  async cancel_after_first_response() {
    const r = reader(this.stub.FullDuplexCall(new grpc.Metadata(), deadline()));
    r.call.write({ response_parameters: [{ size: 31415 }], payload: zeros(27182) });
    checkZeros((await nextResponse(r, 'response')).payload, 31415, 'response');
    r.call.cancel();
    const item = await r.next();
    check(item.status && item.status.code === Code.CANCELLED,
      item.status ? `the call ended ${statusText(item.status)}, want CANCELLED` : 'a response after the cancel');
  }

  async timeout_on_sleeping_server() {
    const r = reader(this.stub.FullDuplexCall(new grpc.Metadata(), deadline(1)));
    r.call.write({ payload: zeros(27182) });
    const item = await r.next();
    check(item.status && item.status.code === Code.DEADLINE_EXCEEDED,
      item.status ? `the call ended ${statusText(item.status)}, want DEADLINE_EXCEEDED` : 'a response');
  }

  async custom_metadata() {
    const md = new grpc.Metadata();
    md.add(ECHO_INITIAL, ECHO_INITIAL_VALUE);
    md.add(ECHO_TRAILING, ECHO_TRAILING_VALUE);
    const { rep, headers, trailers } = await unary(this.stub, 'UnaryCall',
      { response_size: 314159, payload: zeros(271828) }, { md })
      .catch((e) => { throw new Failure(`UnaryCall: ${statusText(e)}`); });
    checkZeros(rep.payload, 314159, 'UnaryCall');
    checkEcho(headers, trailers, 'UnaryCall');

    const r = reader(this.stub.FullDuplexCall(md, deadline()));
    r.call.write({ response_parameters: [{ size: 314159 }], payload: zeros(271828) });
    checkZeros((await nextResponse(r, 'FullDuplexCall')).payload, 314159, 'FullDuplexCall');
    r.call.end();
    const status = await finish(r, 'FullDuplexCall after the half-close');
    check(status.code === Code.OK, `FullDuplexCall ended ${statusText(status)}, want OK`);
    checkEcho(r.headers(), status.metadata, 'FullDuplexCall');
  }

  /* Returns the text after the case name on its "ok" line. */
  async server_id() {
    const seen = new Map();
    for (let i = 0; i < 10; i++) {
      const { rep } = await unary(this.stub, 'UnaryCall', { fill_server_id: true })
        .catch((e) => { throw new Failure(`call ${i}: ${statusText(e)}`); });
      check(/^\S+$/.test(rep.server_id), `call ${i}: server_id ${JSON.stringify(rep.server_id)}`);
      seen.set(rep.server_id, (seen.get(rep.server_id) || 0) + 1);
    }
    return [...seen.keys()].sort().map((id) => `${id}=${seen.get(id)}`).join(' ');
  }
}

async function run(cases, names) {
  let passed = 0;
  let failed = 0;
  for (const name of names) {
    let timer;
    try {
      const note = await Promise.race([cases[name](), new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Failure(`no end within ${CASE_TIMEOUT_MS / 1000} s`)),
          CASE_TIMEOUT_MS);
      })]);
      console.log(note ? `ok - ${name}: ${note}` : `ok - ${name}`);
      passed++;
    } catch (e) {
      let reason;
      if (e instanceof Failure) reason = e.message;
      else if (typeof e.code === 'number' && 'details' in e) reason = `unexpected ${statusText(e)}`;
      else reason = `${e.name}: ${e.message}`;
      console.log(`not ok - ${name}: ${reason}`);
      failed++;
    } finally {
      clearTimeout(timer);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0;
}

async function main() {
  const a = parseFlags(process.argv.slice(2), {
    server_host: '127.0.0.1', server_port: '', test_case: 'all', use_tls: false,
    ca_file: '', server_host_override: '',
  }, __filename);
  const prog = 'interop_client.js';
  if (!/^\d+$/.test(a.server_port)) usage(prog, '--server_port needs a port number');
  const names = a.test_case === 'all' ? STANDARD : a.test_case.split(',');
  for (const n of names) {
    if (!STANDARD.includes(n) && !EXTRA.includes(n)) usage(prog, `unknown test case ${n}`);
  }
  const cases = new Cases(a, loadTesting());
  let ok;
  try {
    ok = await run(cases, names);
  } finally {
    cases.close();
  }
  // Calls a case gave up on may still hold handles: exit now.
  process.exit(ok ? 0 : 1);
}

// A stray rejection is reported and the remaining cases still run.
process.on('unhandledRejection', (e) => {
  process.stderr.write(`interop_client.js: unhandled rejection: ${e && e.message ? e.message : e}\n`);
});

main().catch((e) => {
  console.log(`not ok - client: ${e.stack || e}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
