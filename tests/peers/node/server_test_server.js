#!/usr/bin/env node
/*
 * A @grpc/grpc-js server of crpc.servertest.WorkerTest and LoopTest.
 *
 * It behaves as tests/server/README.md says crpc's test module does, with
 * Rep.placement "grpc-js" for both services, and serves
 * grpc.health.v1.Health (Check and Watch; "" and every test service are
 * SERVING). crpc's client is tested against it; it is proved against the
 * peer clients (server_test_client.js and .py with --expect-placement any).
 *
 * Usage:
 *   node server_test_server.js [--listen HOST:PORT] [--tls-cert F --tls-key F
 *       [--tls-client-ca F]] [--max-message-bytes N] [--drain-seconds N]
 *       [--workers N]
 *
 * Once listening it prints "listening on HOST:PORT (h2c)" (or "(tls)") with
 * the port it got; SIGTERM or SIGINT stops it gracefully (calls in flight
 * get --drain-seconds to finish, new ones are refused) and it exits 0.
 * --workers is accepted for the reference server's command line and
 * ignored: handlers run on Node's one thread, except `spin`, which burns
 * CPU on a worker thread so that it holds up no other call.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { Worker } = require('worker_threads');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PLACEMENT = 'grpc-js';
const REPO = path.resolve(__dirname, '..', '..', '..');
// A cancellation that arrives this close to the deadline is the deadline's:
// a client whose own timer fires first resets the stream a moment before
// the server's timer would.
const DEADLINE_SLACK_MS = 50;
// A wait_cancel call nobody cancels ends on its own after this long.
const WAIT_CANCEL_MAX_MS = 120000;
const { status: Code } = grpc;

function usage(msg) {
  process.stderr.write(`server_test_server.js: ${msg} (see --help)\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const known = new Set(['--listen', '--tls-cert', '--tls-key', '--tls-client-ca',
    '--max-message-bytes', '--drain-seconds', '--workers', '--proto-path',
    '--proto', '--health-proto']);
  const a = {
    listen: '127.0.0.1:0', 'max-message-bytes': String(4 * 1024 * 1024),
    'drain-seconds': '5', 'proto-path': [], proto: 'server_test.proto',
    'health-proto': '/usr/share/grpc-proto/grpc/health/v1/health.proto',
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
    if (value === undefined) {
      if (i + 1 >= argv.length) usage(`${key} needs a value`);
      value = argv[++i];
    }
    const name = key.slice(2);
    if (name === 'proto-path') a[name].push(value); else a[name] = value;
  }
  if (!!a['tls-cert'] !== !!a['tls-key'] || (a['tls-client-ca'] && !a['tls-cert'])) {
    usage('--tls-cert and --tls-key go together; --tls-client-ca needs them');
  }
  for (const k of ['max-message-bytes', 'drain-seconds']) {
    a[k] = Number(a[k]);
    if (!Number.isFinite(a[k]) || a[k] < 0) usage(`--${k} needs a number`);
  }
  if (a['proto-path'].length === 0) {
    a['proto-path'] = [path.join(REPO, 'tests', 'server', 'proto'), path.join(REPO, 'proto')];
  }
  return a;
}

function loadProtos(a) {
  const opts = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
  const def = protoLoader.loadSync(a.proto, { ...opts, includeDirs: a['proto-path'] });
  const health = protoLoader.loadSync(path.basename(a['health-proto']),
    { ...opts, includeDirs: [path.dirname(a['health-proto'])] });
  const find = (d, short) => {
    const full = Object.keys(d).find((k) => k === short || k.endsWith(`.${short}`));
    if (!full) throw new Error(`no service ${short} in the protos`);
    return { full, def: d[full] };
  };
  return {
    WorkerTest: find(def, 'WorkerTest'),
    LoopTest: find(def, 'LoopTest'),
    Health: find(health, 'Health'),
  };
}

/* wait_cancel handlers per tag: how many are waiting, and how those that
 * ended saw their end. */
class Stats {
  constructor() { this.seen = new Map(); }

  count(tag, kind, by) {
    if (!this.seen.has(tag))
      this.seen.set(tag, { cancelled: 0, deadline: 0, waiting: 0 });
    this.seen.get(tag)[kind] += by;
  }

  begin(tag) { this.count(tag, 'waiting', 1); }

  record(tag, kind) {
    this.count(tag, 'waiting', -1);
    this.count(tag, kind, 1);
  }

  get(tag) {
    return { ...(this.seen.get(tag) || { cancelled: 0, deadline: 0, waiting: 0 }) };
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Burns CPU for |ms| on a thread of its own. */
function spin(ms) {
  return new Promise((resolve) => {
    const w = new Worker(`
      const { workerData: ms } = require('worker_threads');
      const end = Date.now() + ms;
      let x = 0;
      while (Date.now() < end) for (let i = 0; i < 1000; i++) x += i;`,
    { eval: true, workerData: ms });
    w.once('exit', () => resolve());
    w.once('error', () => resolve());
  });
}

/* Sleeps, or with req.spin burns CPU, for req.sleep_ms. */
function pause(req) {
  if (req.sleep_ms <= 0) return Promise.resolve();
  return req.spin ? spin(req.sleep_ms) : sleep(req.sleep_ms);
}

/* Sends every x-echo-* request header back as a header; returns the
 * matching trailers (key + "-trailer", "-bin" kept last). */
function echoMetadata(call) {
  const headers = new grpc.Metadata();
  const trailers = new grpc.Metadata();
  let any = false;
  for (const key of Object.keys(call.metadata.toJSON())) {
    if (!key.startsWith('x-echo-')) continue;
    const tkey = key.endsWith('-bin') ? `${key.slice(0, -4)}-trailer-bin` : `${key}-trailer`;
    for (const v of call.metadata.get(key)) {
      headers.add(key, v);
      trailers.add(tkey, v);
      any = true;
    }
  }
  if (any) call.sendMetadata(headers);
  return trailers;
}

/* The status |req| asks for, with the trailer x-status-trailer: yes after
 * |trailers|. */
function failure(req, trailers) {
  const md = trailers ? trailers.clone() : new grpc.Metadata();
  md.add('x-status-trailer', 'yes');
  return { code: req.status, details: req.message, metadata: md };
}

function payloadOf(req, i = 0) {
  const sizes = req.reply_sizes || [];
  if (sizes.length) return Buffer.alloc(sizes[i % sizes.length], i % 251);
  return req.reply_bytes ? Buffer.alloc(req.reply_bytes, 'x') : req.payload;
}

function rep(fields) {
  return { text: '', payload: Buffer.alloc(0), count: 0, ...fields, placement: PLACEMENT };
}

/* Resolves once |call| is cancelled (by the client or its deadline),
 * telling which. */
function waitCancel(call) {
  return new Promise((resolve) => {
    let timer = null;
    const done = () => {
      clearTimeout(timer);
      const deadline = call.getDeadline();
      const remaining = deadline instanceof Date ? deadline.getTime() - Date.now()
        : Number.isFinite(deadline) ? deadline - Date.now() : Infinity;
      resolve(remaining <= DEADLINE_SLACK_MS ? 'deadline' : 'cancelled');
    };
    if (call.cancelled) { done(); return; }
    call.once('cancelled', done);
    timer = setTimeout(() => { call.removeListener('cancelled', done); done(); },
      WAIT_CANCEL_MAX_MS);
  });
}

/* The handlers of both test services. */
function testService(stats) {
  return {
    async Unary(call, callback) {
      const req = call.request;
      const trailers = echoMetadata(call);
      if (req.wait_cancel) {
        stats.begin(req.name);
        stats.record(req.name, await waitCancel(call));
        callback(null, rep({}));
        return;
      }
      await pause(req);
      if (req.status) {
        callback(failure(req, trailers));
        return;
      }
      callback(null, rep({ text: `hello ${req.name}`, payload: payloadOf(req) }), trailers);
    },

    async ServerStream(call) {
      const req = call.request;
      for (let i = 0; i < req.count; i++) {
        if (i) await pause(req);
        if (call.cancelled) return;
        call.write(rep({ text: `hello ${req.name}`, count: i, payload: payloadOf(req, i) }));
      }
      if (req.status) call.emit('error', failure(req));
      else call.end();
    },

    ClientStream(call, callback) {
      const names = [];
      const payloads = [];
      let failed = false;
      call.on('data', (req) => {
        if (failed) return;
        if (req.status) {
          failed = true;
          callback(failure(req));
          return;
        }
        names.push(req.name);
        payloads.push(req.payload);
      });
      call.on('error', () => {});
      call.on('end', () => {
        if (failed) return;
        callback(null, rep({ text: names.join(','), payload: Buffer.concat(payloads),
          count: names.length }));
      });
    },

    /* Requests are answered in order, each after its pause. */
    Bidi(call) {
      let index = 0;
      let failed = false;
      let chain = Promise.resolve();
      call.on('data', (req) => {
        const i = index++;
        chain = chain.then(async () => {
          if (failed || call.cancelled) return;
          await pause(req);
          if (req.status) {
            failed = true;
            call.emit('error', failure(req));
            return;
          }
          for (let n = 0; n < Math.max(req.count, 1); n++) {
            call.write(rep({ text: `hello ${req.name}`, count: i }));
          }
        });
      });
      call.on('error', () => {});
      call.on('end', () => {
        chain = chain.then(() => { if (!failed && !call.cancelled) call.end(); });
      });
    },

    Stats(call, callback) {
      callback(null, stats.get(call.request.tag));
    },
  };
}

function healthService(services) {
  const serving = new Set(['', ...services]);
  return {
    Check(call, callback) {
      if (!serving.has(call.request.service)) {
        callback({ code: Code.NOT_FOUND, details: `unknown service ${call.request.service}` });
        return;
      }
      callback(null, { status: 'SERVING' });
    },
    /* Statuses never change here: the stream stays open until the client
     * goes or the server stops. */
    Watch(call) {
      call.write({ status: serving.has(call.request.service) ? 'SERVING' : 'SERVICE_UNKNOWN' });
      call.on('error', () => {});
    },
  };
}

/*
 * grpc-js's server does not compress responses. A request with
 * x-want-compression: gzip gets its response messages gzipped here: the
 * interceptor sees grpc-js's own call object (the only interceptor), whose
 * framing and response headers it wraps for that call alone.
 */
function gzipResponses(methodDescriptor, call) {
  const want = call.metadata && typeof call.metadata.get === 'function'
    ? call.metadata.get('x-want-compression') : [];
  if (want.length === 0 || String(want[0]) !== 'gzip') return call;
  if (typeof call.serializeMessage !== 'function' || typeof call.sendMetadata !== 'function') {
    throw new Error('this grpc-js has no serializeMessage/sendMetadata to wrap');
  }
  const serialize = call.serializeMessage.bind(call);
  const sendMetadata = call.sendMetadata.bind(call);
  call.serializeMessage = (value) => {
    const plain = serialize(value);
    const body = zlib.gzipSync(plain.subarray(5));
    const out = Buffer.allocUnsafe(body.length + 5);
    out.writeUInt8(1, 0);
    out.writeUInt32BE(body.length, 1);
    body.copy(out, 5);
    return out;
  };
  call.sendMetadata = (md) => {
    const m = md ? md.clone() : new grpc.Metadata();
    m.set('grpc-encoding', 'gzip');
    sendMetadata(m);
  };
  return call;
}

function serverCredentials(a) {
  if (!a['tls-cert']) return grpc.ServerCredentials.createInsecure();
  const ca = a['tls-client-ca'] ? fs.readFileSync(a['tls-client-ca']) : null;
  return grpc.ServerCredentials.createSsl(ca,
    [{ private_key: fs.readFileSync(a['tls-key']), cert_chain: fs.readFileSync(a['tls-cert']) }],
    !!ca);
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const p = loadProtos(a);
  const stats = new Stats();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': a['max-message-bytes'],
    'grpc.max_send_message_length': a['max-message-bytes'],
    'grpc.so_reuseport': 0,
    interceptors: [gzipResponses],
  });
  const svc = testService(stats);
  server.addService(p.WorkerTest.def, svc);
  const loopHandlers = { ...svc };
  delete loopHandlers.Stats; // WorkerTest's alone
  server.addService(p.LoopTest.def, loopHandlers);
  server.addService(p.Health.def, healthService([p.WorkerTest.full, p.LoopTest.full]));

  const kind = a['tls-cert'] ? 'tls' : 'h2c';
  server.bindAsync(a.listen, serverCredentials(a), (err, port) => {
    if (err) {
      process.stderr.write(`server_test_server.js: cannot listen on ${a.listen}: ${err.message}\n`);
      process.exit(1);
    }
    const host = a.listen.slice(0, a.listen.lastIndexOf(':'));
    console.log(`listening on ${host}:${port} (${kind})`);
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log(`stopping: draining calls for up to ${a['drain-seconds']}s`);
    const stopped = () => {
      console.log('stopped');
      process.exit(0);
    };
    // Calls still running when the drain time is up are cut off.
    setTimeout(() => {
      server.forceShutdown();
      setImmediate(stopped);
    }, a['drain-seconds'] * 1000).unref();
    server.tryShutdown(stopped);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
