#!/usr/bin/env node
/*
 * @grpc/grpc-js's client in the soak test (soak.py, README.md): the same
 * scenarios, flags and JSON line as soak_client.py, whose docstring
 * describes them, run by --threads concurrent tasks. grpc-js's
 * channel.close() leaves started calls running, so its close scenario
 * closes the channel under two running calls and then cancels them (both
 * end CANCELLED), as an application closing a grpc-js channel would.
 *
 * Usage:
 *   node soak_client.js --target HOST:PORT --cut-target HOST:PORT
 *       [--seconds N] [--threads N] [--seed N]
 *
 * Exits 0 when no call was lost or hung, else 1 (2 for a bad command line).
 */
'use strict';

const path = require('path');
const { createRequire } = require('module');

const REPO = path.resolve(__dirname, '..', '..');
// grpc-js and proto-loader are installed for the peers (tests/peers/node).
const peerRequire = createRequire(path.join(REPO, 'tests', 'peers', 'node', 'package.json'));
const grpc = peerRequire('@grpc/grpc-js');
const protoLoader = peerRequire('@grpc/proto-loader');

const CALL_TIMEOUT_MS = 10000; // every call but the deadline scenario's
const GRACE_MS = 5000; // past its deadline a call counts as hung
const MAX_SAMPLES = 10;
const CUT_NAME = 'CUT!'; // the relay cuts once "hello CUT!" comes back
const KINDS = ['unary', 'server_stream', 'client_stream', 'bidi'];
const SERVICES = { worker: 'WorkerTest', loop: 'LoopTest' };
const SCENARIOS = [['ok', 55], ['deadline', 15], ['cancel', 15], ['close', 5], ['cut', 10]];
const CHANNEL_OPTIONS = {
  'grpc.use_local_subchannel_pool': 1, // its own connection
  'grpc.enable_retries': 0,
};
const codeName = (c) => Object.keys(grpc.status).find((k) => grpc.status[k] === c) || String(c);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const other = (svc) => (svc === 'worker' ? 'loop' : 'worker');

function parseArgs(argv) {
  const a = { seconds: '10', threads: '4', seed: String(process.pid) };
  const known = new Set(['--target', '--cut-target', '--seconds', '--threads', '--seed']);
  for (let i = 0; i < argv.length; i++) {
    let [key, value] = argv[i].split(/=(.*)/s);
    if (!known.has(key)) usage(`unknown flag ${key}`);
    if (value === undefined) {
      if (i + 1 >= argv.length) usage(`${key} needs a value`);
      value = argv[++i];
    }
    a[key.slice(2)] = value;
  }
  if (!a.target || !a['cut-target']) usage('--target and --cut-target are required');
  return { ...a, seconds: Number(a.seconds), threads: Number(a.threads), seed: Number(a.seed) };
}

function usage(msg) {
  process.stderr.write(`soak_client.js: ${msg}\n`);
  process.exit(2);
}

/* mulberry32: each task draws from its own generator. */
function generator(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

/* The messages of a server or bidi stream, one at a time: next() resolves
 * {m} for a message, then {end: true} or {err} for good. */
class Reader {
  constructor(call) {
    this.items = [];
    this.waiters = [];
    this.last = null;
    call.on('data', (m) => this.push({ m }));
    call.on('end', () => this.push({ end: true }));
    call.on('error', (err) => this.push({ err }));
  }

  push(item) {
    if (this.last) return;
    if (!item.m) this.last = item;
    const w = this.waiters.shift();
    if (w) w(item); else this.items.push(item);
  }

  next() {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    if (this.last) return Promise.resolve(this.last);
    return new Promise((r) => this.waiters.push(r));
  }

  /* The status the stream ends with, reading what is left. */
  async status() {
    for (;;) {
      const item = await this.next();
      if (item.end) return 'OK';
      if (item.err) return codeName(item.err.code);
    }
  }
}

/* A call whose callback gives its reply (unary, client streaming) as a
 * promise of {status, rep}. */
function replyOf(start) {
  let call;
  const done = new Promise((resolve) => {
    call = start((err, rep) => resolve(err ? { status: codeName(err.code) } : { status: 'OK', rep }));
  });
  return { call, done };
}

class Tally {
  constructor() {
    this.calls = 0;
    this.outcomes = {};
    this.scenarios = Object.fromEntries(SCENARIOS.map(([n]) => [n, 0]));
    this.lost = 0;
    this.hung = 0;
    this.failures = [];
  }

  sample(text) {
    if (this.failures.length < MAX_SAMPLES) this.failures.push(text);
  }
}

class Worker {
  constructor(args, ctors, tally, index, end) {
    this.args = args;
    this.ctors = ctors;
    this.tally = tally;
    this.index = index;
    this.end = end;
    this.rnd = generator(args.seed * 7919 + index);
    this.seq = 0;
    this.limit = 0; // when the running scenario counts as hung
    this.serial = 0; // scenarios begun
    this.hungSerial = 0; // the watchdog's: the scenario counted hung
    this.what = '';
    this.done = false;
    this.conn = this.connect(args.target);
  }

  connect(target) {
    const channel = new grpc.Channel(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const stubs = {};
    for (const [svc, name] of Object.entries(SERVICES)) {
      stubs[svc] = new this.ctors[name](target, grpc.credentials.createInsecure(),
        { channelOverride: channel });
    }
    return { channel, stubs };
  }

  /* A call's deadline; raises the scenario's hung limit to cover it. */
  deadline(ms) {
    this.limit = Math.max(this.limit, Date.now() + ms + GRACE_MS);
    return { deadline: Date.now() + ms };
  }

  name() {
    this.seq += 1;
    return `js${this.index}-${this.seq}`;
  }

  note(want, got, wrong) {
    const t = this.tally;
    t.calls += 1;
    t.outcomes[got] = (t.outcomes[got] || 0) + 1;
    if (got !== want || wrong) {
      t.lost += 1;
      t.sample(`${this.what}: got ${got}, want ${want}${wrong ? `: ${wrong}` : ''}`);
    }
  }

  static checkRep(rep, name, index, svc) {
    if (rep.text !== `hello ${name}`) return `wrong text ${JSON.stringify(rep.text)}`;
    if (rep.count !== index) return `wrong count ${rep.count}, want ${index}`;
    if (rep.placement !== svc) return `wrong placement ${rep.placement}`;
    return null;
  }

  // The ok scenario.

  async okUnary(svc) {
    const name = this.name();
    const payload = Buffer.from(Array.from({ length: this.rnd(256) }, () => this.rnd(256)));
    const req = { name, payload, sleep_ms: this.rnd(3) };
    const { done } = replyOf((cb) => this.conn.stubs[svc].Unary(req, new grpc.Metadata(),
      this.deadline(CALL_TIMEOUT_MS), cb));
    const { status, rep } = await done;
    let wrong = rep ? Worker.checkRep(rep, name, 0, svc) : null;
    if (!wrong && rep && !Buffer.from(rep.payload).equals(payload)) wrong = 'wrong payload';
    this.note('OK', status, wrong);
  }

  async okServerStream(svc) {
    const name = this.name();
    const count = 1 + this.rnd(16);
    const r = new Reader(this.conn.stubs[svc].ServerStream({ name, count },
      this.deadline(CALL_TIMEOUT_MS)));
    let wrong = null;
    let n = 0;
    for (let item = await r.next(); item.m; item = await r.next(), n++) {
      wrong = wrong || Worker.checkRep(item.m, name, n, svc);
    }
    if (!wrong && n !== count) wrong = `${n} replies, want ${count}`;
    this.note('OK', await r.status(), wrong);
  }

  async okClientStream(svc) {
    const n = 1 + this.rnd(16);
    const names = Array.from({ length: n }, () => this.name());
    const { call, done } = replyOf((cb) => this.conn.stubs[svc].ClientStream(
      new grpc.Metadata(), this.deadline(CALL_TIMEOUT_MS), cb));
    for (const name of names) call.write({ name });
    call.end();
    const { status, rep } = await done;
    const wrong = rep && (rep.count !== n || rep.text !== names.join(','))
      ? `wrong reply count ${rep.count}` : null;
    this.note('OK', status, wrong);
  }

  async okBidi(svc) {
    const name = this.name();
    const call = this.conn.stubs[svc].Bidi(this.deadline(CALL_TIMEOUT_MS));
    const r = new Reader(call);
    let wrong = null;
    let status = null;
    for (let i = 0, n = 1 + this.rnd(8); i < n && !status; i++) {
      call.write({ name });
      const item = await r.next();
      if (item.m) wrong = wrong || Worker.checkRep(item.m, name, i, svc);
      else status = item.end ? 'OK' : codeName(item.err.code);
    }
    call.end();
    if (!status) {
      const item = await r.next();
      if (item.m) wrong = wrong || 'a reply after the last request';
      status = await r.status();
    }
    this.note('OK', status, wrong);
  }

  // Calls that cannot end by themselves within CALL_TIMEOUT_MS.

  /*
   * Starts a call of |kind| that only its deadline or a cancellation ends,
   * as soak_client.py's start_slow() does, on |conn|. Resolves {call, end,
   * started}: end() resolves the status the call ends with; started is the
   * status once a stream's first reply was due ('OK' when it came).
   */
  async startSlow(svc, kind, ms, conn) {
    const stub = (conn || this.conn).stubs[svc];
    const opts = this.deadline(ms);
    const name = this.name();
    if (kind === 'unary') {
      const { call, done } = replyOf((cb) => stub.Unary({ name: 'soak', wait_cancel: true },
        new grpc.Metadata(), opts, cb));
      return { call, started: 'OK', end: async () => (await done).status };
    }
    if (kind === 'client_stream') {
      const { call, done } = replyOf((cb) => stub.ClientStream(new grpc.Metadata(), opts, cb));
      call.write({ name, sleep_ms: 5000 });
      return { call, started: 'OK', end: async () => (await done).status };
    }
    const call = kind === 'server_stream'
      ? stub.ServerStream({ name, count: 50, sleep_ms: 5000 }, opts) : stub.Bidi(opts);
    const r = new Reader(call);
    if (kind === 'bidi') call.write({ name, count: 1 });
    const first = await r.next();
    const started = first.m ? 'OK' : first.end ? 'OK (an empty stream)' : codeName(first.err.code);
    return { call, started, end: () => r.status() };
  }

  /* A slow call, |then| (given the call) run while it runs; notes that it
   * ended with |want|. */
  async slow(svc, kind, ms, want, then) {
    const c = await this.startSlow(svc, kind, ms);
    if (c.started !== 'OK') {
      this.note(want, c.started);
      return;
    }
    if (then) await then(c.call);
    this.note(want, await c.end());
  }

  async deadlineCall(svc, kind) {
    await this.slow(svc, kind, 50 + this.rnd(250), 'DEADLINE_EXCEEDED');
  }

  async cancelCall(svc, kind) {
    await this.slow(svc, kind, CALL_TIMEOUT_MS, 'CANCELLED', async (call) => {
      await sleep(10 + this.rnd(150));
      call.cancel();
    });
  }

  // Dropped connections.

  async closeChannel(svc) {
    const calls = [await this.startSlow(svc, 'server_stream', CALL_TIMEOUT_MS),
      await this.startSlow(other(svc), 'unary', CALL_TIMEOUT_MS)];
    await sleep(10 + this.rnd(50));
    this.conn.channel.close();
    for (const c of calls) c.call.cancel();
    for (const c of calls) this.note('CANCELLED', c.started !== 'OK' ? c.started : await c.end());
    this.conn = this.connect(this.args.target);
  }

  async cutConnection(svc, kind) {
    const skind = kind === 'bidi' ? 'bidi' : 'server_stream';
    const conn = this.connect(this.args['cut-target']);
    const streams = [];
    for (let i = 0, n = this.rnd(3); i < n; i++) {
      streams.push(await this.startSlow(svc, skind, CALL_TIMEOUT_MS, conn));
    }
    const { done } = replyOf((cb) => conn.stubs[other(svc)].Unary({ name: CUT_NAME },
      new grpc.Metadata(), this.deadline(CALL_TIMEOUT_MS), cb));
    this.note('UNAVAILABLE', (await done).status);
    for (const c of streams) this.note('UNAVAILABLE', c.started !== 'OK' ? c.started : await c.end());
    conn.channel.close();
  }

  async runOne() {
    let pick = this.rnd(100);
    let i = 0;
    while (pick >= SCENARIOS[i][1]) pick -= SCENARIOS[i++][1];
    const scenario = SCENARIOS[i][0];
    const kind = KINDS[this.rnd(KINDS.length)];
    const svc = this.rnd(2) ? 'loop' : 'worker';
    this.what = `${scenario} ${scenario === 'close' ? 'two calls' : kind} ${svc}`;
    if (scenario === 'ok') {
      const camel = kind.replace(/_(.)/g, (_, c) => c.toUpperCase());
      await this[`ok${camel[0].toUpperCase()}${camel.slice(1)}`](svc);
    } else if (scenario === 'deadline') {
      await this.deadlineCall(svc, kind);
    } else if (scenario === 'cancel') {
      await this.cancelCall(svc, kind);
    } else if (scenario === 'close') {
      await this.closeChannel(svc);
    } else {
      await this.cutConnection(svc, kind);
    }
    this.tally.scenarios[scenario] += 1;
  }

  async run() {
    try {
      while (Date.now() < this.end) {
        this.serial += 1;
        await this.runOne();
        this.limit = 0;
      }
    } catch (e) { // a bug in this client: a lost call
      this.tally.lost += 1;
      this.tally.sample(`${this.what}: ${e.stack || e}`);
    } finally {
      this.conn.channel.close();
      this.done = true;
    }
  }

  /* Counts the running scenario as hung, once, when it is past its limit
   * or the run's last moment; returns true when it is hung. */
  checkHung(now, last) {
    if (this.done || (now <= last && (!this.limit || now <= this.limit))) return false;
    if (this.hungSerial !== this.serial) {
      this.hungSerial = this.serial;
      this.tally.hung += 1;
      this.tally.sample(`${this.what}: still running ${GRACE_MS} ms past its deadline`);
    }
    return true;
  }
}

function loadCtors() {
  const opts = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
  const def = protoLoader.loadSync('server_test.proto', {
    ...opts, includeDirs: [path.join(REPO, 'tests', 'server', 'proto'), path.join(REPO, 'proto')],
  });
  const ctors = {};
  for (const name of Object.values(SERVICES)) {
    ctors[name] = grpc.makeGenericClientConstructor(def[`crpc.servertest.${name}`], name);
  }
  return ctors;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ctors = loadCtors();
  const tally = new Tally();
  const t0 = Date.now();
  const end = t0 + args.seconds * 1000;
  const last = end + CALL_TIMEOUT_MS + 2 * GRACE_MS;
  const workers = Array.from({ length: args.threads }, (_, i) => new Worker(args, ctors, tally, i, end));
  workers.forEach((w) => w.run());
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = Date.now();
      const hung = workers.filter((w) => w.checkHung(now, last)).length;
      if (workers.every((w) => w.done) || (hung && now > end)) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
  });
  const line = JSON.stringify({
    client: 'grpc-js', seconds: Math.round((Date.now() - t0) / 100) / 10,
    calls: tally.calls, outcomes: tally.outcomes, scenarios: tally.scenarios,
    lost: tally.lost, hung: tally.hung, failures: tally.failures,
  });
  // Exit once the line is out: a hung call's handles would keep Node up.
  process.stdout.write(`${line}\n`, () => process.exit(tally.lost || tally.hung ? 1 : 0));
}

main();
