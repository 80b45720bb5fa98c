#!/usr/bin/env node
// Tiny hq-interop client on quiche (@matrixai/quic's QUICClient). Only meant
// to prove that server.js works on its own.
//
//   node client.js --host ADDR --port PORT --path /FILE [--out FILE]
//                  [--insecure | --ca FILE] [--sni NAME] [--timeout MS]
//                  [--keylog FILE] [--rebind-after BYTES [--rebind-soft]] [--verbose]
//
// Prints "size N sha256 HEX" on stdout (and writes the body to --out if given).
// --rebind-after BYTES: talk to the server through an in-process UDP relay
// that, after BYTES of response payload, switches to a fresh source port and
// closes the old one (a NAT rebinding as the server sees it): packets still in
// flight on the old path are lost. The download only completes if the server
// follows the client to the new path and recovers those losses.
// --rebind-soft: same, but the old path keeps delivering server packets for 2 s
// (no loss at the switch).
// Exit 0 on success, 1 on failure, 2 on a bad argument.
import fs from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import crypto from 'node:crypto';
import { parseArgs, makeLogger, sha256 } from './lib.js';

const ME = 'quiche-client';
let args;
try {
  args = parseArgs(process.argv.slice(2), {
    host: 'string',
    port: 'int',
    path: 'string',
    out: 'string',
    insecure: 'bool',
    ca: 'string',
    sni: 'string',
    timeout: 'int',
    keylog: 'string',
    'rebind-after': 'int',
    'rebind-soft': 'bool',
    verbose: 'bool',
  });
  for (const req of ['host', 'port', 'path']) if (args[req] === undefined) throw new Error(`missing --${req}`);
  if (!args.path.startsWith('/')) throw new Error(`--path must start with /: ${args.path}`);
  if (net.isIP(args.host) === 0) throw new Error(`--host must be an IP address: ${args.host}`);
  if (!args.insecure && args.ca === undefined) throw new Error('need --insecure or --ca FILE');
} catch (e) {
  process.stderr.write(`${ME}: ${e.message}\n`);
  process.exit(2);
}
const verbose = !!args.verbose;
const log = (m) => process.stderr.write(`${ME}: ${m}\n`);
const timeoutMs = args.timeout ?? 20000;

const { QUICClient } = await import('@matrixai/quic');

// Overall watchdog: never hang.
const watchdog = setTimeout(() => {
  log(`timed out after ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs);

let relay = null;
let target = { host: args.host, port: args.port };
if (args['rebind-after'] !== undefined) {
  relay = await startRelay(args.host, args.port, args['rebind-after'], !!args['rebind-soft']);
  target = { host: relay.host, port: relay.port };
}

const config = {
  verifyPeer: !args.insecure,
  applicationProtos: ['hq-interop'],
  maxIdleTimeout: Math.min(timeoutMs, 30000),
};
if (args.ca !== undefined) config.ca = fs.readFileSync(args.ca, 'utf8');
if (args.keylog !== undefined) config.logKeys = args.keylog;

let client;
let status = 1;
try {
  client = await QUICClient.createQUICClient(
    {
      host: target.host,
      port: target.port,
      serverName: args.sni ?? 'localhost',
      crypto: {
        ops: {
          async randomBytes(data) {
            crypto.randomFillSync(new Uint8Array(data));
          },
        },
      },
      config,
      logger: makeLogger(ME, verbose),
    },
    { timer: timeoutMs },
  );
  const conn = client.connection;
  if (verbose) log(`connected, local ${client.localHost}:${client.localPort}`);
  const stream = conn.newStream('bidi');
  const writer = stream.writable.getWriter();
  await writer.write(Buffer.from(`GET ${args.path}\r\n`, 'latin1'));
  await writer.close();
  const reader = stream.readable.getReader();
  const chunks = [];
  let len = 0;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    len += value.byteLength;
  }
  const body = Buffer.concat(chunks, len);
  if (args.out !== undefined) fs.writeFileSync(args.out, body);
  process.stdout.write(`size ${body.length} sha256 ${sha256(body)}\n`);
  if (relay) {
    process.stdout.write(
      `rebind ${relay.rebound ? 'done' : 'not-reached'} old-port ${relay.oldPort} new-port ${relay.newPort ?? '-'} ` +
        `server-packets-on-new-path ${relay.newPathPackets}\n`,
    );
    if (!relay.rebound) log('warning: body ended before the rebind point');
  }
  status = 0;
} catch (e) {
  log(`failed: ${e?.message ?? e}${e?.cause ? ` (${e.cause.message ?? e.cause})` : ''}`);
  status = 1;
}
try {
  if (client) await Promise.race([client.destroy({ force: true }), new Promise((r) => setTimeout(r, 2000))]);
} catch {
  // ignore
}
if (relay) relay.close();
clearTimeout(watchdog);
process.exit(status);

// UDP relay: client <-> relay(front) <-> upstream socket <-> server.
async function startRelay(srvHost, srvPort, rebindAfter, soft) {
  const fam = net.isIPv6(srvHost) ? 'udp6' : 'udp4';
  const loop = fam === 'udp6' ? '::1' : '127.0.0.1';
  const bind = (s, port = 0) =>
    new Promise((res, rej) => {
      s.once('error', rej);
      s.bind(port, loop, () => res());
    });
  const front = dgram.createSocket(fam);
  await bind(front);
  let clientAddr = null;
  const st = { rebound: false, oldPort: 0, newPort: null, newPathPackets: 0, host: loop, port: front.address().port };
  let down = 0;
  let up = dgram.createSocket(fam);
  await bind(up);
  st.oldPort = up.address().port;
  const onServer = (sock, isNew) => (msg) => {
    if (sock !== up && !soft) return; // old path closed: drop
    if (isNew) st.newPathPackets++;
    down += msg.length;
    if (clientAddr) front.send(msg, clientAddr.port, clientAddr.address);
    if (!st.rebound && down >= rebindAfter) {
      st.rebound = true;
      const old = up;
      const fresh = dgram.createSocket(fam);
      fresh.on('message', onServer(fresh, true));
      fresh.bind(0, loop, () => {
        st.newPort = fresh.address().port;
        up = fresh;
        if (!soft) old.close();
        else setTimeout(() => old.close(), 2000).unref();
        if (verbose) log(`relay: rebound ${st.oldPort} -> ${st.newPort}`);
      });
      if (!soft) up = null; // drop client packets while rebinding (like a NAT in flux)
    }
  };
  up.on('message', onServer(up, false));
  front.on('message', (msg, rinfo) => {
    clientAddr = rinfo;
    if (up) up.send(msg, srvPort, srvHost);
  });
  st.close = () => {
    try {
      front.close();
    } catch {}
    try {
      up?.close();
    } catch {}
  };
  return st;
}
