/*
 * What the Node interop client and server share: @grpc/grpc-js and
 * @grpc/proto-loader from tests/peers/node/node_modules (the pinned
 * versions scripts/install-deps.sh installs), grpc.testing's services
 * loaded from the system's grpc-proto package, and the contract's flag
 * syntax (--flag=value or --flag value; a bare boolean flag means true).
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const PEERS = path.resolve(__dirname, '..', '..', '..', 'peers', 'node');
const peerRequire = createRequire(path.join(PEERS, 'package.json'));
const grpc = peerRequire('@grpc/grpc-js');
const protoLoader = peerRequire('@grpc/proto-loader');

const PROTO_DIR = '/usr/share/grpc-proto';
const PROTO = 'grpc/testing/test.proto';

const codeName = (c) => Object.keys(grpc.status).find((k) => grpc.status[k] === c) || String(c);

/* The grpc.testing package: TestService, UnimplementedService, ... as
 * client constructors with a .service definition for servers. Unset
 * message fields read as null, so BoolValue and EchoStatus show whether
 * they were sent. */
function loadTesting() {
  const def = protoLoader.loadSync(PROTO, {
    keepCase: true, longs: Number, enums: String, defaults: true, includeDirs: [PROTO_DIR],
  });
  return grpc.loadPackageDefinition(def).grpc.testing;
}

/* "host:port" for grpc-js and net, with an IPv6 literal in brackets. */
function hostPort(host, port) {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function usage(prog, msg) {
  process.stderr.write(`${prog}: ${msg} (see --help)\n`);
  process.exit(2);
}

/*
 * Parses |argv| against |spec|: { name: default }, where a boolean default
 * makes a flag that may stand alone or take true/false. Returns the values
 * by name; --help prints the leading comment of |file|; anything unknown
 * or malformed is a usage error (exit 2).
 */
function parseFlags(argv, spec, file) {
  const prog = path.basename(file);
  const out = { ...spec };
  for (let i = 0; i < argv.length; i++) {
    let key = argv[i];
    let value;
    const eq = key.indexOf('=');
    if (eq > 0) [key, value] = [key.slice(0, eq), key.slice(eq + 1)];
    if (key === '--help' || key === '-h') {
      process.stdout.write(fs.readFileSync(file, 'utf8').split('*/')[0]);
      process.exit(0);
    }
    const name = key.slice(2);
    if (!key.startsWith('--') || !(name in spec)) usage(prog, `unknown flag ${key}`);
    if (typeof spec[name] === 'boolean') {
      if (value === undefined && /^(true|false)$/.test(argv[i + 1] || '')) value = argv[++i];
      if (value !== undefined && !/^(true|false)$/.test(value)) usage(prog, `${key} takes true or false`);
      out[name] = value === undefined || value === 'true';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) usage(prog, `${key} needs a value`);
      value = argv[++i];
    }
    out[name] = value;
  }
  return out;
}

module.exports = { grpc, codeName, loadTesting, hostPort, usage, parseFlags };
