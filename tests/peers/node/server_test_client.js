#!/usr/bin/env node
/*
 * Checks a server of crpc.servertest.WorkerTest and LoopTest with
 * @grpc/grpc-js: the same checks, flags and output as
 * tests/peers/python/server_test_client.py, whose docstring lists them. The
 * behaviour expected is tests/server/README.md's.
 *
 * Usage:
 *   node server_test_client.js --target HOST:PORT [--tls --ca FILE
 *       [--server-name NAME]] [--client-cert FILE --client-key FILE]
 *       [--expect-placement auto|any|NAME] [--busy-calls N] [--only TEXT]
 *   node server_test_client.js --target HOST:PORT --tls --ca FILE --expect-refused
 *
 * Prints "ok - NAME" or "not ok - NAME: reason" per check and then
 * "N passed, M failed"; exits 1 if a check failed.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { CountingProxy } = require('./proxy');

const KiB = 1024;
const MiB = 1024 * 1024;
const LIMIT = 4 * MiB; // the server's default max message size
const SERVICES = ['WorkerTest', 'LoopTest'];
const STATUS_MESSAGE = 'failed: \u00fcn\u00efc\u00f6d\u00e9 \u2713 100% done, %41 stays %41';
const REPO = path.resolve(__dirname, '..', '..', '..');
const CHECK_TIMEOUT_MS = 90000;
const { status: Code } = grpc;
const codeName = (c) => Object.keys(Code).find((k) => Code[k] === c) || String(c);

class Failure extends Error {}

function check(cond, reason) {
  if (!cond) throw new Failure(reason);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const flags = new Set(['--tls', '--expect-refused']);
  const multi = new Set(['--proto-path']);
  const known = new Set([
    '--target', '--ca', '--server-name', '--client-cert', '--client-key',
    '--expect-placement', '--busy-calls', '--call-timeout', '--only',
    '--proto', '--health-proto', ...flags, ...multi]);
  const a = {
    'proto-path': [], proto: 'server_test.proto',
    'health-proto': '/usr/share/grpc-proto/grpc/health/v1/health.proto',
    'expect-placement': 'auto', 'busy-calls': '4', 'call-timeout': '30',
  };
  for (let i = 0; i < argv.length; i++) {
    let key = argv[i];
    let value;
    const eq = key.indexOf('=');
    if (eq > 0) [key, value] = [key.slice(0, eq), key.slice(eq + 1)];
    if (key === '--help' || key === '-h') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
      process.exit(0);
    }
    if (!known.has(key)) usage(`unknown flag ${key}`);
    const name = key.slice(2);
    if (flags.has(key)) { a[name] = true; continue; }
    if (value === undefined) {
      if (i + 1 >= argv.length) usage(`${key} needs a value`);
      value = argv[++i];
    }
    if (multi.has(key)) a[name].push(value); else a[name] = value;
  }
  if (!a.target) usage('--target is required');
  if (a.tls && !a.ca) usage('--tls needs --ca');
  if (!!a['client-cert'] !== !!a['client-key']) usage('--client-cert and --client-key go together');
  if ((a['client-cert'] || a['server-name']) && !a.tls) usage('--client-cert and --server-name need --tls');
  if (a['proto-path'].length === 0) {
    a['proto-path'] = [path.join(REPO, 'tests', 'server', 'proto'), path.join(REPO, 'proto')];
  }
  a['busy-calls'] = Number(a['busy-calls']);
  a['call-timeout'] = Number(a['call-timeout']);
  return a;
}

function usage(msg) {
  process.stderr.write(`server_test_client.js: ${msg} (see --help)\n`);
  process.exit(2);
}

function loadProtos(a) {
  const opts = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
  const def = protoLoader.loadSync(a.proto, { ...opts, includeDirs: a['proto-path'] });
  const health = protoLoader.loadSync(path.basename(a['health-proto']),
    { ...opts, includeDirs: [path.dirname(a['health-proto'])] });
  const service = (d, short) => {
    const full = Object.keys(d).find((k) => k === short || k.endsWith(`.${short}`));
    if (!full || !d[full].Unary && short !== 'Health') throw new Error(`no service ${short}`);
    return { full, def: d[full], ctor: grpc.makeGenericClientConstructor(d[full], short) };
  };
  return {
    WorkerTest: service(def, 'WorkerTest'),
    LoopTest: service(def, 'LoopTest'),
    Health: service(health, 'Health'),
  };
}

/* Awaits a unary call; resolves {rep, headers, trailers} once the status is
 * in (grpc-js reports it after the callback), rejects with the error (code,
 * details, metadata: the trailers). */
function unary(client, method, req, { md, timeoutMs, onCall } = {}) {
  return new Promise((resolve, reject) => {
    let headers = null;
    let result;
    const call = client[method](req, md || new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs }, (err, rep) => { result = { err, rep }; });
    call.on('metadata', (m) => { headers = m; });
    call.on('status', (s) => {
      if (result.err) reject(result.err);
      else resolve({ rep: result.rep, headers, trailers: s.metadata });
    });
    if (onCall) onCall(call);
  });
}

/* Collects a server stream: resolves {reps, status}, where a failed stream
 * has status.code != OK. */
function serverStream(client, req, timeoutMs) {
  return new Promise((resolve) => {
    const reps = [];
    const call = client.ServerStream(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs });
    call.on('data', (r) => reps.push(r));
    call.on('error', () => {});
    call.on('status', (status) => resolve({ reps, status }));
  });
}

function clientStream(client, reqs, timeoutMs) {
  return new Promise((resolve, reject) => {
    const call = client.ClientStream(new grpc.Metadata(), { deadline: Date.now() + timeoutMs },
      (err, rep) => (err ? reject(err) : resolve(rep)));
    for (const r of reqs) call.write(r);
    call.end();
  });
}

/* A bidi call whose replies are read one at a time with next(). */
function bidi(client, timeoutMs) {
  const call = client.Bidi(new grpc.Metadata(), { deadline: Date.now() + timeoutMs });
  const queue = [];
  const waiters = [];
  let end = null;
  const push = (item) => (waiters.length ? waiters.shift()(item) : queue.push(item));
  call.on('data', (r) => push({ rep: r }));
  call.on('error', () => {});
  call.on('status', (s) => {
    end = { status: s };
    while (waiters.length) waiters.shift()(end);
  });
  return {
    call,
    next: () => (queue.length ? Promise.resolve(queue.shift())
      : end ? Promise.resolve(end) : new Promise((r) => waiters.push(r))),
  };
}

async function expectError(code, promise) {
  try {
    await promise;
  } catch (e) {
    check(e.code === code, `got ${codeName(e.code)} (${JSON.stringify(e.details)}) instead of ${codeName(code)}`);
    return e;
  }
  throw new Failure(`the call succeeded instead of failing with ${codeName(code)}`);
}

function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i & 255;
  return b;
}

class Client {
  constructor(a, p) {
    this.a = a;
    this.p = p;
    this.T = a['call-timeout'] * 1000;
    this.creds = grpc.credentials.createInsecure();
    if (a.tls) {
      this.creds = grpc.credentials.createSsl(fs.readFileSync(a.ca),
        a['client-key'] ? fs.readFileSync(a['client-key']) : null,
        a['client-cert'] ? fs.readFileSync(a['client-cert']) : null);
    }
    this.clients = {};
    for (const s of [...SERVICES, 'Health']) this.clients[s] = this.newClient(s);
    this.gzipClients = [];
    this.proxy = null;
  }

  /* A client on its own channel and connection, with a send limit far
   * above the server's receive limit. */
  newClient(svc, { target, name, extra } = {}) {
    const options = {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_send_message_length': 64 * MiB,
      'grpc.max_receive_message_length': 8 * MiB,
      'grpc.enable_retries': 0,
      ...extra,
    };
    const serverName = name || this.a['server-name'];
    if (this.a.tls && serverName) {
      options['grpc.ssl_target_name_override'] = serverName;
      options['grpc.default_authority'] = serverName;
    }
    return new this.p[svc].ctor(target || this.a.target, this.creds, options);
  }

  size(svc, req) {
    return this.p[svc].def.Unary.requestSerialize(req).length;
  }

  close() {
    for (const c of Object.values(this.clients)) c.close();
    for (const c of this.gzipClients) c.close();
    if (this.proxy) this.proxy.close();
  }

  // -- the four method kinds ----------------------------------------------

  async unary(svc) {
    const payload = Buffer.from([0, 1, 0x70, 0x61, 0x79, 0xff]);
    const { rep } = await unary(this.clients[svc], 'Unary', { name: 'unary', payload }, { timeoutMs: this.T });
    check(rep.text === 'hello unary', `text ${JSON.stringify(rep.text)}, want 'hello unary'`);
    check(Buffer.from(rep.payload).equals(payload), `payload ${rep.payload.toString('hex')} not echoed`);
  }

  async serverStream(svc) {
    const { reps, status } = await serverStream(this.clients[svc],
      { name: 'ss', count: 5, payload: Buffer.from('p') }, this.T);
    check(status.code === Code.OK, `stream ended ${codeName(status.code)} (${status.details})`);
    check(reps.length === 5, `${reps.length} replies, want 5`);
    reps.forEach((r, i) => check(r.text === 'hello ss' && r.count === i && r.payload.toString() === 'p',
      `reply ${i} is ${r.text}/${r.count}/${r.payload.toString('hex')}`));
  }

  async clientStream(svc) {
    const reqs = [0, 1, 2, 3, 4].map((i) => ({ name: `c${i}`, payload: Buffer.alloc(3, i) }));
    const rep = await clientStream(this.clients[svc], reqs, this.T);
    check(rep.text === 'c0,c1,c2,c3,c4', `text ${JSON.stringify(rep.text)}, want 'c0,c1,c2,c3,c4'`);
    check(rep.count === 5, `count ${rep.count}, want 5`);
    const want = Buffer.concat(reqs.map((r) => r.payload));
    check(Buffer.from(rep.payload).equals(want), `payload ${rep.payload.toString('hex')}, want ${want.toString('hex')}`);
  }

  /* One request, its replies, then the next request. */
  async bidi(svc) {
    const b = bidi(this.clients[svc], 10000);
    try {
      for (let i = 0; i < 5; i++) {
        const count = 1 + (i % 2);
        b.call.write({ name: `b${i}`, count });
        for (let j = 0; j < count; j++) {
          const item = await b.next();
          if (item.status) {
            throw new Failure(`waiting for reply ${j} to request ${i}: stream ended `
              + `${codeName(item.status.code)} (${item.status.details})`);
          }
          check(item.rep.text === `hello b${i}` && item.rep.count === i,
            `reply ${j} to request ${i} is ${item.rep.text}/${item.rep.count}`);
        }
      }
      b.call.end();
      const last = await b.next();
      check(!last.rep, 'a reply after the last request');
      check(last.status.code === Code.OK, `stream ended ${codeName(last.status.code)} (${last.status.details})`);
    } finally {
      b.call.cancel();
    }
  }

  // -- status, deadlines, cancellation ----------------------------------

  async status(svc) {
    const e = await expectError(Code.OUT_OF_RANGE, unary(this.clients[svc], 'Unary',
      { name: 'st', status: 11, message: STATUS_MESSAGE }, { timeoutMs: this.T }));
    check(e.details === STATUS_MESSAGE, `message ${JSON.stringify(e.details)}, want ${JSON.stringify(STATUS_MESSAGE)}`);
    const t = e.metadata.get('x-status-trailer');
    check(t.length === 1 && t[0] === 'yes', `trailer x-status-trailer is ${JSON.stringify(t)}`);
  }

  async streamStatus(svc) {
    const { reps, status } = await serverStream(this.clients[svc],
      { name: 'sst', count: 3, status: 9, message: STATUS_MESSAGE }, this.T);
    check(status.code === Code.FAILED_PRECONDITION,
      `got ${codeName(status.code)} (${JSON.stringify(status.details)}), want FAILED_PRECONDITION`);
    check(status.details === STATUS_MESSAGE, `message ${JSON.stringify(status.details)}`);
    check(reps.length === 3, `${reps.length} replies before the status, want 3`);
  }

  async deadline(svc) {
    const t0 = Date.now();
    await expectError(Code.DEADLINE_EXCEEDED, unary(this.clients[svc], 'Unary',
      { name: 'dl', sleep_ms: 3000 }, { timeoutMs: 300 }));
    const took = (Date.now() - t0) / 1000;
    check(took < 2.0, `DEADLINE_EXCEEDED came after ${took.toFixed(2)} s`);
  }

  /* Polls WorkerTest.Stats(tag) for up to 3 s until |field| reaches 1. */
  async stats(tag, field) {
    const end = Date.now() + 3000;
    for (;;) {
      const { rep } = await unary(this.clients.WorkerTest, 'Stats', { tag }, { timeoutMs: this.T });
      if (rep[field] >= 1 || Date.now() > end) return rep;
      await sleep(50);
    }
  }

  async cancelSeen(svc) {
    const tag = `cancel-${svc}-${crypto.randomUUID()}`;
    let call;
    let ended = null;
    const p = unary(this.clients[svc], 'Unary', { name: tag, wait_cancel: true },
      { timeoutMs: this.T, onCall: (c) => { call = c; } });
    p.catch((e) => { ended = e; });
    await sleep(200);
    if (ended) throw new Failure(`the call ended before the client cancelled it: ${codeName(ended.code)}`);
    call.cancel();
    await expectError(Code.CANCELLED, p);
    const s = await this.stats(tag, 'cancelled');
    check(s.cancelled === 1 && s.deadline === 0, `Stats says cancelled=${s.cancelled} `
      + `deadline=${s.deadline} 3 s after the cancel, want cancelled=1 deadline=0`);
  }

  async deadlineSeen(svc) {
    const tag = `deadline-${svc}-${crypto.randomUUID()}`;
    await expectError(Code.DEADLINE_EXCEEDED, unary(this.clients[svc], 'Unary',
      { name: tag, wait_cancel: true }, { timeoutMs: 300 }));
    const s = await this.stats(tag, 'deadline');
    check(s.deadline === 1 && s.cancelled === 0, `Stats says deadline=${s.deadline} `
      + `cancelled=${s.cancelled} 3 s after the deadline, want deadline=1 cancelled=0`);
  }

  // -- metadata ---------------------------------------------------------

  async metadata(svc) {
    const text = 'text value, with spaces & punctuation!';
    const binary = Buffer.from([0, 1, 2, 0x63, 0x72, 0x70, 0x63, 0xfe, 0xff]);
    const md = new grpc.Metadata();
    md.add('x-echo-text', text);
    md.add('x-echo-data-bin', binary);
    md.add('x-other', 'not echoed');
    const { headers, trailers } = await unary(this.clients[svc], 'Unary', { name: 'md' }, { md, timeoutMs: this.T });
    const same = (got, want) => got.length === 1 && (Buffer.isBuffer(want)
      ? Buffer.isBuffer(got[0]) && got[0].equals(want) : got[0] === want);
    const show = (v) => v.map((x) => (Buffer.isBuffer(x) ? `0x${x.toString('hex')}` : JSON.stringify(x))).join(',');
    for (const [m, key, want, where] of [
      [headers, 'x-echo-text', text, 'header'],
      [headers, 'x-echo-data-bin', binary, 'header'],
      [trailers, 'x-echo-text-trailer', text, 'trailer'],
      [trailers, 'x-echo-data-trailer-bin', binary, 'trailer']]) {
      const got = m ? m.get(key) : [];
      check(same(got, want), `${where} ${key} is [${show(got)}], want [${show([want])}]`);
    }
    check(!headers || headers.get('x-other').length === 0, 'x-other was echoed');
  }

  // -- message sizes ----------------------------------------------------

  async bigRequest(svc) {
    let n = LIMIT - 64;
    n += LIMIT - 48 - this.size(svc, { name: 'big', payload: pattern(n) });
    const req = { name: 'big', payload: pattern(n) };
    check(this.size(svc, req) === LIMIT - 48, `test bug: request is ${this.size(svc, req)} bytes`);
    const { rep } = await unary(this.clients[svc], 'Unary', req, { timeoutMs: this.T });
    check(rep.payload.length === n, `echoed payload is ${rep.payload.length} bytes, want ${n}`);
    check(Buffer.from(rep.payload).equals(req.payload), 'echoed payload differs');
  }

  async bigResponse(svc) {
    const m = LIMIT - 64;
    const { rep } = await unary(this.clients[svc], 'Unary', { name: 'bigrep', reply_bytes: m }, { timeoutMs: this.T });
    check(rep.payload.length === m && Buffer.from(rep.payload).equals(Buffer.alloc(m, 'x')),
      `payload is ${rep.payload.length} bytes, want ${m} x`);
  }

  async oversize(svc) {
    await expectError(Code.RESOURCE_EXHAUSTED, unary(this.clients[svc], 'Unary',
      { name: 'over', payload: Buffer.alloc(LIMIT + KiB, 'o'), reply_bytes: 1 }, { timeoutMs: this.T }));
    let rep;
    try {
      ({ rep } = await unary(this.clients[svc], 'Unary', { name: 'after' }, { timeoutMs: this.T }));
    } catch (e) {
      throw new Failure(`the next call on the channel failed: ${codeName(e.code)} (${e.details})`);
    }
    check(rep.text === 'hello after', `next call's text ${JSON.stringify(rep.text)}`);
  }

  // -- compression --------------------------------------------------------

  /* A client through a byte-counting relay that compresses its requests
   * with gzip, so the checks see what messages cost on the wire. Each is
   * new: grpc-js stops compressing on a channel once a server's
   * grpc-accept-encoding, split on "," without trimming spaces, seems not
   * to list gzip, so only a channel's first call is sure to compress. */
  async gzipClient(svc) {
    if (!this.proxy) {
      this.proxy = new CountingProxy(this.a.target);
      await this.proxy.listen();
    }
    const host = this.a.target.slice(0, this.a.target.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    const c = this.newClient(svc, {
      target: `127.0.0.1:${this.proxy.port}`,
      name: this.a['server-name'] || host,
      extra: { 'grpc.default_compression_algorithm': 2 /* gzip */ },
    });
    this.gzipClients.push(c);
    return c;
  }

  async gzipRequest(svc) {
    const c = await this.gzipClient(svc);
    this.proxy.reset();
    const { rep } = await unary(c, 'Unary', { name: 'gz', payload: Buffer.alloc(MiB, 'z'), reply_bytes: 1 },
      { timeoutMs: this.T });
    const { up } = this.proxy;
    check(rep.payload.toString() === 'x', `reply payload ${rep.payload.toString('hex').slice(0, 32)}`);
    check(up < 256 * KiB, `a 1 MiB request took ${up} bytes on the wire: not compressed`);
  }

  async gzipResponse(svc) {
    const c = await this.gzipClient(svc);
    await unary(c, 'Unary', { name: 'warm' }, { timeoutMs: this.T });
    this.proxy.reset();
    const md = new grpc.Metadata();
    md.add('x-want-compression', 'gzip');
    const { rep } = await unary(c, 'Unary', { name: 'gzr', reply_bytes: MiB }, { md, timeoutMs: this.T });
    const { down } = this.proxy;
    check(Buffer.from(rep.payload).equals(Buffer.alloc(MiB, 'x')),
      `payload is ${rep.payload.length} bytes, want 1 MiB of x`);
    check(down < 256 * KiB, `a 1 MiB reply took ${down} bytes on the wire: not compressed`);
  }

  // -- placement ----------------------------------------------------------

  async placement(svc) {
    let want = this.a['expect-placement'];
    if (want === 'auto') want = svc === 'WorkerTest' ? 'worker' : 'loop';
    const c = this.clients[svc];
    const ss = await serverStream(c, { name: 'pl', count: 1 }, this.T);
    const b = bidi(c, this.T);
    b.call.write({ name: 'pl' });
    b.call.end();
    const bi = await b.next();
    const got = {
      Unary: (await unary(c, 'Unary', { name: 'pl' }, { timeoutMs: this.T })).rep.placement,
      ServerStream: ss.reps.length ? ss.reps[0].placement : `(no reply: ${codeName(ss.status.code)})`,
      ClientStream: (await clientStream(c, [{ name: 'pl' }], this.T)).placement,
      Bidi: bi.rep ? bi.rep.placement : `(no reply: ${codeName(bi.status.code)})`,
    };
    for (const [method, placement] of Object.entries(got)) {
      if (want === 'any') check(placement && !placement.startsWith('('), `${method}: placement ${placement}`);
      else check(placement === want, `${method} ran on ${JSON.stringify(placement)}, want ${JSON.stringify(want)}`);
    }
  }

  // -- the server as a whole ------------------------------------------------

  rawCall(path) {
    return new Promise((resolve, reject) => {
      this.clients.WorkerTest.makeUnaryRequest(path, (b) => b, (b) => b, Buffer.alloc(0),
        new grpc.Metadata(), { deadline: Date.now() + this.T }, (e, r) => (e ? reject(e) : resolve(r)));
    });
  }

  async unknownMethod() {
    await expectError(Code.UNIMPLEMENTED, this.rawCall(`/${this.p.WorkerTest.full}/NoSuchMethod`));
  }

  async unknownService() {
    await expectError(Code.UNIMPLEMENTED, this.rawCall('/no.such.Service/Unary'));
  }

  async healthCheck(service) {
    const { rep } = await unary(this.clients.Health, 'Check', { service }, { timeoutMs: this.T });
    check(rep.status === 'SERVING', `status ${rep.status}, want SERVING`);
  }

  async healthUnknown() {
    await expectError(Code.NOT_FOUND, unary(this.clients.Health, 'Check',
      { service: 'no.such.Service' }, { timeoutMs: this.T }));
  }

  async healthWatch() {
    const call = this.clients.Health.Watch({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + this.T });
    const first = await new Promise((resolve) => {
      call.on('data', (r) => resolve(r));
      call.on('error', () => {});
      call.on('status', (s) => resolve({ ended: s }));
    });
    call.cancel();
    check(!first.ended, `the watch ended without a message: ${first.ended && codeName(first.ended.code)}`);
    check(first.status === 'SERVING', `first status ${first.status}, want SERVING`);
  }

  /* Starts |n| slow calls, then a quick LoopTest call, which must
   * complete first; all must succeed. */
  async overtakes(slowSvc, slowReq, n) {
    const order = [];
    const track = (label, p) => p.then((r) => { order.push(label); return r; });
    const slow = [];
    for (let i = 0; i < n; i++) {
      slow.push(track(`slow${i}`, unary(this.clients[slowSvc], 'Unary', slowReq, { timeoutMs: this.T })));
    }
    const allSlow = Promise.all(slow);
    allSlow.catch(() => {}); // awaited below, after the quick call
    // The slow calls' streams open first on the same connection; the pause
    // only makes sure their handlers are running.
    await sleep(200);
    const quick = await track('quick', unary(this.clients.LoopTest, 'Unary', { name: 'quick' }, { timeoutMs: this.T }));
    await allSlow;
    check(quick.rep.text === 'hello quick', `quick call's text ${JSON.stringify(quick.rep.text)}`);
    check(order[0] === 'quick', `completion order ${order.join(',')}: the quick call waited`);
  }

  checks() {
    const out = [];
    for (const svc of SERVICES) {
      for (const [name, fn] of [
        ['unary', this.unary],
        ['server streaming', this.serverStream],
        ['client streaming', this.clientStream],
        ['bidi streaming, interleaved', this.bidi],
        ['status code and message', this.status],
        ['status after server stream', this.streamStatus],
        ['deadline', this.deadline],
        ['cancellation seen by the handler', this.cancelSeen],
        ['deadline seen by the handler', this.deadlineSeen],
        ['metadata echo', this.metadata],
        ['4 MiB request', this.bigRequest],
        ['4 MiB response', this.bigResponse],
        ['oversize request, channel still usable', this.oversize],
        ['gzip request', this.gzipRequest],
        ['gzip response', this.gzipResponse],
        ['placement', this.placement]]) {
        out.push([`${svc} ${name}`, () => fn.call(this, svc)]);
      }
    }
    out.push(
      ['unknown method', () => this.unknownMethod()],
      ['unknown service', () => this.unknownService()],
      ['health Check("")', () => this.healthCheck('')],
      ['health Check(WorkerTest)', () => this.healthCheck(this.p.WorkerTest.full)],
      ['health Check(LoopTest)', () => this.healthCheck(this.p.LoopTest.full)],
      ['health Check(unknown) is NOT_FOUND', () => this.healthUnknown()],
      ['health Watch("")', () => this.healthWatch()],
      ['ordering: a quick loop call overtakes sleeping loop calls',
        () => this.overtakes('LoopTest', { name: 'slow', sleep_ms: 1500 }, 3)],
      ['ordering: a quick loop call overtakes busy workers',
        () => this.overtakes('WorkerTest', { name: 'busy', sleep_ms: 1500, spin: true }, this.a['busy-calls'])],
    );
    return out;
  }
}

async function run(checks, only) {
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of checks) {
    if (only && !name.includes(only)) continue;
    let timer;
    try {
      await Promise.race([fn(), new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Failure(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)),
          CHECK_TIMEOUT_MS);
      })]);
      console.log(`ok - ${name}`);
      passed++;
    } catch (e) {
      let reason;
      if (e instanceof Failure) reason = e.message;
      else if (typeof e.code === 'number' && 'details' in e) reason = `unexpected ${codeName(e.code)}: ${e.details}`;
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
  const a = parseArgs(process.argv.slice(2));
  const client = new Client(a, loadProtos(a));
  const mode = a.tls ? (a['client-cert'] ? 'mTLS' : 'TLS') : 'plaintext';
  const version = require('@grpc/grpc-js/package.json').version;
  console.log(`# @grpc/grpc-js ${version} (node ${process.version}) -> ${a.target} (${mode})`);
  let ok;
  try {
    if (a['expect-refused']) {
      ok = await run([['a call without a client certificate is refused', async () => {
        await expectError(Code.UNAVAILABLE, unary(client.clients.WorkerTest, 'Unary',
          { name: 'refused' }, { timeoutMs: 10000 }));
      }]]);
    } else {
      ok = await run(client.checks(), a.only);
    }
  } finally {
    client.close();
  }
  // Calls a check gave up on may still hold handles: exit now.
  process.exit(ok ? 0 : 1);
}

// A stray rejection is reported and the remaining checks still run.
process.on('unhandledRejection', (e) => {
  console.log(`# unhandled rejection: ${e && e.message ? e.message : e}`);
});

main().catch((e) => {
  console.log(`not ok - client: ${e.stack || e}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
