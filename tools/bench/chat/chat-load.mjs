// Load generator of the chat fan-out benchmark: many Engine.IO 4 / Socket.IO 5 viewers
// over WebSocket (no polling) in one room, spread over worker processes, plus
// signed-in senders emitting stream:chat at a fixed total rate. Every chat message
// carries its send time; each viewer worker histograms receive - send per delivery.
//
// The wire protocol is spoken by hand (one WebSocket text frame per Engine.IO packet):
//   server: 0{"sid":..}  open            client: 40 / 40{"token":".."}  Socket.IO CONNECT
//   server: 40{"sid":..} connected       client: 42N["stream:join",{..}] event with ack id N
//   server: 43N[{..}]    ack N           client: 3  pong, answering the server's ping 2
//   server: 42["chat:message",{..}]      event
//
// Times are CLOCK_MONOTONIC microseconds (process.hrtime), one clock for every process on
// the machine, so a delivery's latency is exact across processes.
//
// Two client implementations: 'raw' (default; net.Socket with a minimal RFC 6455 framer,
// cheapest per frame, so the client is less of a bottleneck on a small machine) and 'ws'
// (the ws library; for cross-checking the raw client).
//
// As a library: ChatLoad (used by chat-bench.mjs). As a CLI:
//   node chat-load.mjs --port P --stream-id S --viewers N [--workers 2] [--ramp 500]
//        [--client raw|ws] [--tokens tokens.json --rate R --duration D]
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

const SELF = fileURLToPath(import.meta.url);

/** CLOCK_MONOTONIC in microseconds: the same clock in every process on this machine. */
export function nowUs() {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1000);
}

// ---------------------------------------------------------------------------------
// Latency histogram: exact microseconds below 128 µs, then 64 sub-buckets per power of
// two (about 1.6 % precision) up to 2^31 µs. Small enough to ship over IPC.

const LINEAR = 128;
const SUB = 64;
export const HIST_SIZE = LINEAR + 24 * SUB;

export function histIndex(us) {
  if (us < LINEAR) return us < 0 ? 0 : us | 0;
  const v = us >= 2147483647 ? 2147483647 : us | 0;
  const e = 31 - Math.clz32(v);
  return LINEAR + (e - 7) * SUB + ((v >>> (e - 6)) & (SUB - 1));
}

/** The middle of bucket i, in µs. */
export function histValue(i) {
  if (i < LINEAR) return i;
  const k = i - LINEAR;
  const e = 7 + Math.floor(k / SUB);
  const width = 2 ** (e - 6);
  return (SUB + (k % SUB)) * width + width / 2;
}

export function histSparse(hist) {
  const out = [];
  for (let i = 0; i < hist.length; i++) if (hist[i]) out.push([i, hist[i]]);
  return out;
}

export function histMerge(into, sparse) {
  for (const [i, c] of sparse) into[i] += c;
}

/** {count, p50, p90, p99, p999} in µs from a dense histogram. */
export function histSummary(hist) {
  let count = 0;
  for (let i = 0; i < hist.length; i++) count += hist[i];
  const quantiles = { p50: 0.5, p90: 0.9, p99: 0.99, p999: 0.999 };
  const out = { count };
  for (const [name, q] of Object.entries(quantiles)) {
    if (!count) {
      out[name] = null;
      continue;
    }
    const rank = Math.ceil(q * count);
    let seen = 0;
    for (let i = 0; i < hist.length; i++) {
      seen += hist[i];
      if (seen >= rank) {
        out[name] = histValue(i);
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Transports: a WebSocket carrying text frames; calls onPayload(buf, start, end, nowUs).

function clientFrame(opcode, payload) {
  // Client frames must be masked (RFC 6455 5.3); the all-zero key leaves the payload as is.
  const n = payload.length;
  let head;
  if (n < 126) {
    head = Buffer.from([0x80 | opcode, 0x80 | n, 0, 0, 0, 0]);
  } else if (n < 65536) {
    head = Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff, 0, 0, 0, 0]);
  } else {
    head = Buffer.alloc(14);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

class RawTransport {
  constructor(port, sink) {
    this.sink = sink;
    this.open = false;
    this.header = '';
    this.pending = null;
    this.fragments = null;
    this.sock = net.connect({ port, host: '127.0.0.1' });
    this.sock.setNoDelay(true);
    this.sock.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      this.sock.write(
        `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.sock.on('data', (chunk) => this.onData(chunk));
    this.sock.on('error', (err) => this.sink.onError(err));
    this.sock.on('close', () => this.sink.onClose());
  }

  onData(chunk) {
    if (!this.open) {
      this.header += chunk.toString('latin1');
      const end = this.header.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!this.header.startsWith('HTTP/1.1 101')) {
        this.sink.onError(new Error(`upgrade refused: ${this.header.split('\r\n')[0]}`));
        this.sock.destroy();
        return;
      }
      this.open = true;
      const rest = Buffer.from(this.header.slice(end + 4), 'latin1');
      this.header = '';
      if (!rest.length) return;
      chunk = rest;
    }
    const now = nowUs();
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let off = 0;
    const size = buf.length;
    while (size - off >= 2) {
      const b0 = buf[off];
      let len = buf[off + 1] & 0x7f;
      let head = 2;
      if (len === 126) {
        if (size - off < 4) break;
        len = (buf[off + 2] << 8) | buf[off + 3];
        head = 4;
      } else if (len === 127) {
        if (size - off < 10) break;
        len = Number(buf.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (size - off < head + len) break;
      const start = off + head;
      const end = start + len;
      off = end;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === 1 && fin) {
        this.sink.onPayload(buf, start, end, now);
      } else if (opcode === 1 || opcode === 0) {
        (this.fragments ??= []).push(Buffer.from(buf.subarray(start, end)));
        if (fin) {
          const whole = Buffer.concat(this.fragments);
          this.fragments = null;
          this.sink.onPayload(whole, 0, whole.length, now);
        }
      } else if (opcode === 9) {
        this.sock.write(clientFrame(0xa, Buffer.from(buf.subarray(start, end))));
      } else if (opcode === 8) {
        this.sock.end(clientFrame(0x8, Buffer.alloc(0)));
      }
    }
    if (off < size) this.pending = Buffer.from(buf.subarray(off));
  }

  send(text) {
    this.sock.write(clientFrame(1, Buffer.from(text)));
  }

  close() {
    this.sock.destroy();
  }
}

class WsTransport {
  constructor(port, sink) {
    this.sink = sink;
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    this.ws.on('message', (data) => this.sink.onPayload(data, 0, data.length, nowUs()));
    this.ws.on('error', (err) => this.sink.onError(err));
    this.ws.on('close', () => this.sink.onClose());
  }

  send(text) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  close() {
    this.ws.terminate();
  }
}

function connectTransport(kind, port, sink) {
  return kind === 'ws' ? new WsTransport(port, sink) : new RawTransport(port, sink);
}

// ---------------------------------------------------------------------------------
// Cheap frame inspection: compare bytes, no JSON.parse for the hot chat:message path.

const CHAT_PREFIX = Buffer.from('42["chat:message"');
const JOINED_PREFIX = Buffer.from('42["viewer:joined"');
const TILDE = 0x7e;

function startsWith(buf, start, end, prefix) {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false;
  return true;
}

// Parses "~W~T~" (window number, send time in µs) out of a chat:message frame.
function parseStamp(buf, start, end) {
  let i = buf.indexOf(TILDE, start);
  if (i < 0 || i >= end) return null;
  let w = 0;
  for (i++; i < end && buf[i] !== TILDE; i++) w = w * 10 + (buf[i] - 48);
  let t = 0;
  for (i++; i < end && buf[i] !== TILDE; i++) t = t * 10 + (buf[i] - 48);
  return i < end ? [w, t] : null;
}

function ackBody(buf, start, end) {
  // 43<id>[...]: returns [id, text after the id].
  let i = start + 2;
  let id = 0;
  while (i < end && buf[i] >= 48 && buf[i] <= 57) id = id * 10 + (buf[i++] - 48);
  return [id, buf.toString('utf8', i, end)];
}

// ---------------------------------------------------------------------------------
// Worker processes

function serveRpc(handlers) {
  process.on('message', async (msg) => {
    try {
      const result = await handlers[msg.cmd](msg.args ?? {});
      process.send({ id: msg.id, result });
    } catch (err) {
      process.send({ id: msg.id, error: String(err?.stack ?? err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// Opens `count` connections at `rampPerSec`, at most 200 handshakes at once; `makeOne(i,
// done)` calls done once that connection is ready or gave up.
function ramp(first, count, rampPerSec, makeOne) {
  let started = 0;
  let credit = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    credit = Math.min(credit + rampPerSec / 100, 200);
    while (credit >= 1 && started < count && inFlight < 200) {
      credit -= 1;
      inFlight++;
      makeOne(first + started++, () => inFlight--);
    }
    if (started >= count) clearInterval(timer);
  }, 10);
}

function viewerWorker() {
  let cfg;
  const st = { opened: 0, joined: 0, failed: 0, closedAfterJoin: 0, retries: 0, frames: 0, joinNotices: 0, otherEvents: 0, errors: {} };
  const windows = new Map(); // w -> {count, hist, first, last, max}
  const conns = [];

  function windowStats(w) {
    let s = windows.get(w);
    if (!s) {
      s = { count: 0, hist: new Uint32Array(HIST_SIZE), first: 0, last: 0, max: 0 };
      windows.set(w, s);
    }
    return s;
  }
  let lastW = -1;
  let lastS = null;

  class Viewer {
    constructor(i, done, attempt = 0) {
      this.i = i;
      this.done = done;
      this.attempt = attempt;
      this.state = 'connecting';
      this.t = connectTransport(cfg.client, cfg.port, this);
    }
    onPayload(buf, start, end, now) {
      st.frames++;
      const c0 = buf[start];
      if (c0 === 0x34 /* 4: message */) {
        if (startsWith(buf, start, end, CHAT_PREFIX)) {
          const stamp = parseStamp(buf, start, end);
          if (!stamp) return;
          const [w, t] = stamp;
          let s = lastS;
          if (w !== lastW) {
            s = lastS = windowStats(w);
            lastW = w;
          }
          const lat = now - t;
          s.count++;
          s.hist[histIndex(lat)]++;
          if (!s.first) s.first = now;
          s.last = now;
          if (lat > s.max) s.max = lat;
          return;
        }
        const c1 = buf[start + 1];
        if (c1 === 0x30 /* 40: connected */) {
          if (cfg.join === false) {
            // Diagnostics (--join no): a connected socket that never joins a room.
            this.state = 'joined';
            st.joined++;
            this.finish();
            return;
          }
          this.t.send(`421["stream:join",{"stream_id":"${cfg.streamId}"}]`);
        } else if (c1 === 0x33 /* 43: ack of the join */) {
          const [, body] = ackBody(buf, start, end);
          if (this.state === 'open' && body.includes('"ok":true')) {
            this.state = 'joined';
            st.joined++;
            this.finish();
          } else if (this.state === 'open') {
            this.fail(`join refused: ${body.slice(0, 120)}`);
          }
        } else if (c1 === 0x34 /* 44: connect_error */) {
          this.fail(`connect_error ${buf.toString('utf8', start, Math.min(end, start + 120))}`);
        } else if (startsWith(buf, start, end, JOINED_PREFIX)) {
          st.joinNotices++;
        } else {
          st.otherEvents++;
        }
      } else if (c0 === 0x32 /* 2: ping */) {
        this.t.send('3');
      } else if (c0 === 0x30 /* 0: open */) {
        this.state = 'open';
        st.opened++;
        this.t.send('40');
      }
    }
    finish() {
      if (this.done) {
        this.done();
        this.done = null;
      }
    }
    fail(why) {
      st.errors[why] = (st.errors[why] ?? 0) + 1;
      this.state = 'failed';
      this.t.close();
    }
    onError(err) {
      const key = err.code ?? err.message;
      st.errors[key] = (st.errors[key] ?? 0) + 1;
    }
    onClose() {
      if (this.state === 'joined') {
        st.closedAfterJoin++;
        this.state = 'closed';
        return;
      }
      if (this.state === 'closed') return;
      this.state = 'closed';
      if (this.attempt < 3) {
        st.retries++;
        const { i, done, attempt } = this;
        this.done = null;
        setTimeout(() => {
          conns[i] = new Viewer(i, done, attempt + 1);
        }, 1000);
      } else {
        st.failed++;
        this.finish();
      }
    }
  }

  serveRpc({
    init(args) {
      cfg = args;
      return true;
    },
    // Connects n more viewers.
    add({ n }) {
      ramp(conns.length, n, cfg.rampPerSec, (i, done) => {
        conns[i] = new Viewer(i, done);
      });
      conns.length += n;
      return true;
    },
    status() {
      return { ...st, alive: st.joined - st.closedAfterJoin };
    },
    count({ w }) {
      const s = windows.get(w);
      return s ? s.count : 0;
    },
    stats({ w }) {
      const s = windows.get(w);
      if (!s) return { count: 0, hist: [], first: 0, last: 0, max: 0 };
      windows.delete(w);
      if (lastW === w) {
        lastW = -1;
        lastS = null;
      }
      return { count: s.count, hist: histSparse(s.hist), first: s.first, last: s.last, max: s.max };
    },
    stop() {
      for (const c of conns) c?.t.close();
      setTimeout(() => process.exit(0), 50);
      return true;
    },
  });
}

function senderWorker() {
  let cfg;
  const st = { connected: 0, failed: 0, closed: 0, errors: {} };
  const acks = new Map(); // w -> {ok, refused, codes}
  const sessions = [];

  function ackStats(w) {
    let a = acks.get(w);
    if (!a) {
      a = { ok: 0, refused: 0, codes: {} };
      acks.set(w, a);
    }
    return a;
  }

  class Sender {
    constructor(i, token, done) {
      this.i = i;
      this.token = token;
      this.done = done;
      this.ready = false;
      this.seq = 0;
      this.pending = new Map(); // ack id -> window
      this.t = connectTransport(cfg.client, cfg.port, this);
    }
    onPayload(buf, start, end) {
      const c0 = buf[start];
      if (c0 === 0x34) {
        const c1 = buf[start + 1];
        if (c1 === 0x33) {
          const [id, body] = ackBody(buf, start, end);
          const w = this.pending.get(id);
          if (w === undefined) return;
          this.pending.delete(id);
          const a = ackStats(w);
          if (body.includes('"ok":true')) {
            a.ok++;
          } else {
            a.refused++;
            const code = /"code":"([^"]*)"/.exec(body)?.[1] ?? 'unknown';
            a.codes[code] = (a.codes[code] ?? 0) + 1;
          }
        } else if (c1 === 0x30) {
          this.ready = true;
          st.connected++;
          this.finish();
        } else if (c1 === 0x34) {
          const why = buf.toString('utf8', start, Math.min(end, start + 120));
          st.errors[why] = (st.errors[why] ?? 0) + 1;
          st.failed++;
          this.finish();
          this.t.close();
        }
      } else if (c0 === 0x32) {
        this.t.send('3');
      } else if (c0 === 0x30) {
        this.t.send(this.token ? `40${JSON.stringify({ token: this.token })}` : '40');
      }
    }
    finish() {
      if (this.done) {
        this.done();
        this.done = null;
      }
    }
    onError(err) {
      const key = err.code ?? err.message;
      st.errors[key] = (st.errors[key] ?? 0) + 1;
    }
    onClose() {
      if (this.ready) st.closed++;
      else {
        st.failed++;
        this.finish();
      }
      this.ready = false;
    }
    chat(w, k) {
      const id = ++this.seq;
      this.pending.set(id, w);
      // The send time is taken right before the write.
      this.t.send(
        `42${id}["stream:chat",{"stream_id":"${cfg.streamId}","message":"~${w}~${nowUs()}~ hello from the chat bench, message ${k}"}]`,
      );
    }
  }

  serveRpc({
    init(args) {
      cfg = args;
      ramp(0, cfg.tokens.length, cfg.rampPerSec, (i, done) => {
        sessions[i] = new Sender(i, cfg.tokens[i], done);
      });
      return true;
    },
    status() {
      return { ...st, alive: st.connected - st.closed };
    },
    // Sends rate*duration messages, evenly paced, round-robin over `users` (indices).
    send({ w, rate, duration, users }) {
      const total = Math.round(rate * duration);
      const t0 = nowUs();
      let sent = 0;
      let skipped = 0;
      return new Promise((resolve) => {
        const tick = () => {
          const due = Math.min(total, Math.floor(((nowUs() - t0) / 1e6) * rate) + 1);
          while (sent < due) {
            const s = sessions[users[sent % users.length]];
            if (s?.ready) s.chat(w, sent);
            else skipped++;
            sent++;
          }
          if (sent >= total) {
            clearInterval(timer);
            resolve({ sent: sent - skipped, skipped, firstUs: t0, lastUs: nowUs() });
          }
        };
        const timer = setInterval(tick, 1);
        tick();
      });
    },
    acks({ w }) {
      const a = ackStats(w);
      let pending = 0;
      for (const s of sessions) for (const pw of s?.pending.values() ?? []) if (pw === w) pending++;
      return { ...a, pending };
    },
    stop() {
      for (const s of sessions) s?.t.close();
      setTimeout(() => process.exit(0), 50);
      return true;
    },
  });
}

// ---------------------------------------------------------------------------------
// The parent side

class Worker {
  constructor(role) {
    this.child = fork(SELF, ['--worker', role], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.nextId = 1;
    this.waiting = new Map();
    this.exited = false;
    this.child.on('message', (msg) => {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.error) w.reject(new Error(msg.error));
      else w.resolve(msg.result);
    });
    this.child.on('exit', () => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`load worker ${role} exited`));
      this.waiting.clear();
    });
  }
  call(cmd, args) {
    if (this.exited) return Promise.reject(new Error('load worker exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, cmd, args });
    });
  }
  get pid() {
    return this.child.pid;
  }
  async stop() {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.call('stop').catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  }
}

function sumObjects(list) {
  const out = {};
  for (const o of list) {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
      else if (v && typeof v === 'object') out[k] = sumObjects([out[k] ?? {}, v]);
    }
  }
  return out;
}

/**
 * The whole load: `viewers` joined viewers over `workers` processes, and a sender
 * process with one signed-in socket per token.
 */
export class ChatLoad {
  constructor(opts) {
    this.opts = { workers: 2, rampPerSec: 500, client: 'raw', ...opts };
    this.viewerWorkers = [];
    this.sender = null;
  }

  /**
   * Connects the viewers in batches of `batch`. After each batch has joined, waits until
   * the server has sent what the joins caused before the next one: for a server that
   * tells the whole room `viewer:joined` on every join (Souk Live: n(n+1)/2 notices for
   * n joins, N² frames to fill a room), until every notice arrived; for one that does
   * not, until no frame has reached any viewer for `quietMs`.
   * Resolves with the summed worker status once every viewer joined or gave up.
   */
  async connectViewers({ batch = 250, quietMs = 1000, batchTimeoutMs = 180_000, log = () => {} } = {}) {
    const { port, streamId, viewers, workers, rampPerSec, client, join } = this.opts;
    for (let k = 0; k < workers; k++) {
      const w = new Worker('viewer');
      this.viewerWorkers.push(w);
      await w.call('init', { port, streamId, rampPerSec: rampPerSec / workers, client, join });
    }
    let added = 0;
    let lastLog = Date.now();
    let st;
    while (added < viewers) {
      const n = Math.min(batch, viewers - added);
      await Promise.all(
        this.viewerWorkers.map((w, k) => w.call('add', { n: Math.floor(n / workers) + (k < n % workers ? 1 : 0) })),
      );
      added += n;
      const deadline = Date.now() + batchTimeoutMs;
      for (;;) {
        st = await this.viewerStatus();
        if (st.joined + st.failed >= added) break;
        if (Date.now() > deadline) return { ...st, timedOut: true };
        await sleep(100);
      }
      let frames = st.frames;
      let quietSince = Date.now();
      for (;;) {
        const alive = st.joined - st.closedAfterJoin;
        const exact = st.joinNotices > 0 && !st.closedAfterJoin; // the count is known
        if (exact && st.joinNotices >= (alive * (alive + 1)) / 2) break;
        if ((!exact && Date.now() - quietSince >= quietMs) || Date.now() > deadline) break;
        await sleep(100);
        st = await this.viewerStatus();
        if (st.frames !== frames) {
          frames = st.frames;
          quietSince = Date.now();
        }
      }
      if (Date.now() - lastLog > 5000) {
        log(`  viewers joined ${st.joined}/${viewers} (failed ${st.failed}, retries ${st.retries}, closed by the server ${st.closedAfterJoin})`);
        lastLog = Date.now();
      }
    }
    return st;
  }

  async viewerStatus() {
    return sumObjects(await Promise.all(this.viewerWorkers.map((w) => w.call('status'))));
  }

  /** Connects one signed-in sender socket per token (any string for the reference). */
  async connectSenders(tokens, { timeoutMs = 120_000 } = {}) {
    const { port, streamId, rampPerSec, client } = this.opts;
    this.sender = new Worker('sender');
    await this.sender.call('init', { port, streamId, tokens, rampPerSec, client });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.sender.call('status');
      if (st.connected + st.failed >= tokens.length || Date.now() > deadline) return st;
      await sleep(100);
    }
  }

  /**
   * One measurement window: `rate` msgs/s for `duration` s from the sender sockets
   * `users` (indices into the tokens), then waits until every expected delivery arrived,
   * or nothing arrived for `idleMs`, or `drainMs` passed after the last send.
   * hooks.onSendDone() runs right after the last message is written.
   */
  async runWindow({ w, rate, duration, users, drainMs = 15_000, idleMs = 3000 }, hooks = {}) {
    const before = await this.viewerStatus();
    const viewersAtStart = before.alive;
    const send = await this.sender.call('send', { w, rate, duration, users });
    hooks.onSendDone?.();
    const sendEnd = Date.now();
    let received = 0;
    let lastProgress = Date.now();
    let acks;
    for (;;) {
      await sleep(100);
      const counts = await Promise.all(this.viewerWorkers.map((vw) => vw.call('count', { w })));
      const now = counts.reduce((a, b) => a + b, 0);
      if (now > received) lastProgress = Date.now();
      received = now;
      acks = await this.sender.call('acks', { w });
      const expected = (send.sent - acks.refused) * viewersAtStart;
      if (received >= expected && acks.pending === 0) break;
      if (Date.now() - lastProgress > idleMs || Date.now() - sendEnd > drainMs) break;
    }
    const parts = await Promise.all(this.viewerWorkers.map((vw) => vw.call('stats', { w })));
    const hist = new Uint32Array(HIST_SIZE);
    let first = Infinity;
    let last = 0;
    let max = 0;
    for (const p of parts) {
      histMerge(hist, p.hist);
      if (p.count) {
        first = Math.min(first, p.first);
        last = Math.max(last, p.last);
        max = Math.max(max, p.max);
      }
    }
    const sum = histSummary(hist);
    const after = await this.viewerStatus();
    const expected = (send.sent - acks.refused) * viewersAtStart;
    const spanUs = last > send.firstUs ? last - send.firstUs : 0;
    return {
      w,
      rate,
      duration,
      senders: users.length,
      sent: send.sent,
      senderSkipped: send.skipped,
      sendSeconds: (send.lastUs - send.firstUs) / 1e6,
      achievedRate: send.sent / Math.max(1e-9, (send.lastUs - send.firstUs) / 1e6),
      acked: acks.ok,
      refused: acks.refused,
      refusedCodes: acks.codes,
      ackPending: acks.pending,
      viewers: viewersAtStart,
      viewersLost: viewersAtStart - after.alive,
      expected,
      received: sum.count,
      lost: Math.max(0, expected - sum.count),
      // Deliveries over the time from the first send to the last delivery.
      deliveredPerSec: spanUs ? sum.count / (spanUs / 1e6) : 0,
      p50Ms: sum.p50 === null ? null : sum.p50 / 1000,
      p90Ms: sum.p90 === null ? null : sum.p90 / 1000,
      p99Ms: sum.p99 === null ? null : sum.p99 / 1000,
      p999Ms: sum.p999 === null ? null : sum.p999 / 1000,
      maxMs: max / 1000,
    };
  }

  pids() {
    return [...this.viewerWorkers.map((w) => w.pid), ...(this.sender ? [this.sender.pid] : [])];
  }

  async stop() {
    await Promise.all([...this.viewerWorkers, ...(this.sender ? [this.sender] : [])].map((w) => w.stop()));
  }
}

// ---------------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    out[a.slice(2)] = argv[i + 1];
    i++;
  }
  return out;
}

async function cli() {
  const a = parseArgs(process.argv.slice(2));
  if (!a.port || !a['stream-id'] || !a.viewers) {
    console.error(
      'usage: node chat-load.mjs --port P --stream-id S --viewers N [--workers 2] [--ramp 500] [--client raw|ws]\n' +
        '       [--tokens tokens.json --rate R --duration D]   (tokens.json: an array of auth tokens)',
    );
    process.exit(2);
  }
  const load = new ChatLoad({
    port: Number(a.port),
    streamId: a['stream-id'],
    viewers: Number(a.viewers),
    workers: Number(a.workers ?? 2),
    rampPerSec: Number(a.ramp ?? 500),
    client: a.client ?? 'raw',
  });
  try {
    const st = await load.connectViewers({ log: console.error });
    console.error(`viewers: ${JSON.stringify(st)}`);
    if (a.rate) {
      const tokens = a.tokens ? JSON.parse(fs.readFileSync(a.tokens, 'utf8')) : [];
      const sst = await load.connectSenders(tokens);
      console.error(`senders: ${JSON.stringify(sst)}`);
      const users = tokens.map((_, i) => i);
      const r = await load.runWindow({ w: 1, rate: Number(a.rate), duration: Number(a.duration ?? 10), users });
      console.log(JSON.stringify(r, null, 2));
    }
  } finally {
    await load.stop();
  }
}

if (process.argv[1] === SELF) {
  if (process.argv[2] === '--worker') {
    if (process.argv[3] === 'viewer') viewerWorker();
    else senderWorker();
  } else {
    cli().catch((err) => {
      console.error(err);
      process.exit(1);
    });
  }
}
