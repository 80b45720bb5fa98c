// Shared helpers for server.js / client.js (Node built-ins only).
import crypto from 'node:crypto';

// Byte `off` of a generated body. Same as roamquic's C
//   (uint8_t)(((uint64_t)off * 2654435761u) >> 13)
// i.e. bits 13..20 of the full 64-bit product. Those bits lie inside the low
// 32 bits of the product, and the low 32 bits of a product depend only on the
// low 32 bits of its factors, so a 32-bit Math.imul is exact here (for any
// off < 2^53; Math.imul reduces its operands mod 2^32 first).
export function genByte(off) {
  return (Math.imul(off, 2654435761 | 0) >>> 13) & 0xff;
}

// Fill `buf` with the generated body bytes starting at offset `start`.
export function genFill(buf, start) {
  for (let i = 0; i < buf.length; i++) buf[i] = genByte(start + i);
  return buf;
}

// Same thing computed with BigInt on the full 64-bit product (self-check).
export function genByteBig(off) {
  const p = (BigInt(off) * 2654435761n) & 0xffffffffffffffffn;
  return Number((p >> 13n) & 0xffn);
}

// Silent (or stderr) logger with the shape @matrixai/quic expects, so we do
// not depend on @matrixai/logger directly.
export function makeLogger(name, verbose) {
  const out = (lvl) => (msg) => {
    if (verbose) process.stderr.write(`${name} ${lvl} ${msg}\n`);
  };
  const logger = {
    key: name,
    level: 0,
    debug: out('DEBUG'),
    info: out('INFO'),
    warn: out('WARN'),
    error: out('ERROR'),
    getChild: (k) => makeLogger(`${name}.${k}`, verbose),
    setLevel() {},
    getEffectiveLevel: () => 0,
    isEnabledFor: () => verbose,
  };
  return logger;
}

export function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

// Tiny --key value / --flag parser. spec: { name: 'string'|'int'|'bool' }.
// Throws Error with a one-line message on a bad argument.
export function parseArgs(argv, spec) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`);
    let name = a.slice(2);
    let val;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      val = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const ty = spec[name];
    if (ty === undefined) throw new Error(`unknown option: --${name}`);
    if (ty === 'bool') {
      if (val !== undefined) throw new Error(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    if (val === undefined) {
      if (i + 1 >= argv.length) throw new Error(`--${name} needs a value`);
      val = argv[++i];
    }
    if (ty === 'int') {
      if (!/^[0-9]+$/.test(val)) throw new Error(`--${name}: not a non-negative integer: ${val}`);
      val = Number(val);
      if (!Number.isSafeInteger(val)) throw new Error(`--${name}: too large: ${val}`);
    }
    out[name] = val;
  }
  return out;
}
