/*
 * A loopback TCP relay counting the bytes each way, as python/proxy.py: a
 * check can tell a compressed message from a plain one by what crossed
 * the wire (TLS records keep the sizes).
 *
 *   const relay = new CountingProxy('127.0.0.1:50051');  // or '[::1]:50051'
 *   await relay.listen();    // relay.port: where clients connect
 *   ... relay.up, relay.down: bytes client -> server, server -> client
 *   relay.reset(); relay.close();
 */
'use strict';

const net = require('net');

class CountingProxy {
  constructor(target) {
    const i = target.lastIndexOf(':');
    this.host = target.slice(0, i).replace(/^\[|\]$/g, '');
    this.destPort = Number(target.slice(i + 1));
    this.up = 0;
    this.down = 0;
    this.sockets = new Set();
    this.server = net.createServer((client) => {
      const server = net.connect(this.destPort, this.host);
      for (const s of [client, server]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => { client.destroy(); server.destroy(); });
      }
      client.on('data', (d) => { this.up += d.length; server.write(d); });
      server.on('data', (d) => { this.down += d.length; client.write(d); });
      client.on('end', () => server.end());
      server.on('end', () => client.end());
    });
  }

  listen() {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = this.server.address().port;
      resolve();
    }));
  }

  reset() { this.up = 0; this.down = 0; }

  close() {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

module.exports = { CountingProxy };
