// The soak's realtime load: V anonymous viewers spread over the given streams, and
// signed-in chatters sending at a steady total rate, every message acknowledged or
// counted as not. Engine.IO 4 / Socket.IO 5 over WebSocket, spoken by hand (the
// same wire as chat-load.mjs). Runs until SIGTERM or --duration, then writes a JSON
// summary to --summary FILE: {viewers: {connected, connectFailures, lost}, sent,
// acked, refused, unanswered}.
//
//   node soak-clients.mjs --port P --streams streams.json --viewers 1000
//        --tokens tokens.json --rate 5 --duration 1800 --summary summary.json
// streams.json: ["<streamId>", ...]; tokens.json: ["<token>", ...] (chatters).
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

function args() {
  const out = { viewers: 1000, rate: 5, duration: 1800 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) out[a[i].replace(/^--/, '')] = a[i + 1];
  for (const k of ['port', 'viewers', 'rate', 'duration']) out[k] = Number(out[k]);
  return out;
}

/** One Socket.IO client over a WebSocket: connects, joins, answers pings, tracks acks. */
class Client {
  constructor(port, token) {
    this.port = port;
    this.token = token;
    this.nextAck = 0;
    this.pending = new Map();
    this.closed = false;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${this.port}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
      this.ws = ws;
      const timer = setTimeout(() => reject(new Error('connect timeout')), 15_000);
      ws.on('error', (e) => { clearTimeout(timer); reject(e); });
      ws.on('close', () => {
        this.closed = true;
        for (const done of this.pending.values()) done(null);
        this.pending.clear();
      });
      ws.on('message', (data) => {
        const text = data.toString();
        if (text === '2') return ws.send('3');
        if (text.startsWith('0')) return ws.send(this.token ? `40${JSON.stringify({ token: this.token })}` : '40');
        if (text.startsWith('40')) { clearTimeout(timer); return resolve(this); }
        if (text.startsWith('44')) { clearTimeout(timer); return reject(new Error(`refused: ${text}`)); }
        if (text.startsWith('43')) {
          const bracket = text.indexOf('[');
          const id = Number(text.slice(2, bracket));
          const done = this.pending.get(id);
          if (done) {
            this.pending.delete(id);
            done(JSON.parse(text.slice(bracket))[0]);
          }
        }
      });
    });
  }

  /** Emits with an ack; resolves to the ack payload, or null if the socket closed first. */
  emit(event, payload, timeoutMs = 10_000) {
    if (this.closed) return Promise.resolve(null);
    const id = this.nextAck++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.pending.delete(id); resolve(null); }, timeoutMs);
      this.pending.set(id, (ack) => { clearTimeout(timer); resolve(ack); });
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }
}

async function main() {
  const opt = args();
  const streams = JSON.parse(fs.readFileSync(opt.streams, 'utf8'));
  const tokens = JSON.parse(fs.readFileSync(opt.tokens, 'utf8'));
  const viewers = [];
  let connectFailures = 0;
  for (let i = 0; i < opt.viewers; i += 1) {
    const c = new Client(opt.port);
    try {
      await c.open();
      const ack = await c.emit('stream:join', { stream_id: streams[i % streams.length] });
      if (!ack?.ok) throw new Error(`join refused: ${JSON.stringify(ack)}`);
      viewers.push(c);
    } catch {
      connectFailures += 1;
    }
    if (i % 100 === 99) await sleep(50);
  }
  const chatters = [];
  for (let i = 0; i < tokens.length; i += 1) {
    const c = await new Client(opt.port, tokens[i]).open();
    await c.emit('stream:join', { stream_id: streams[i % streams.length] });
    chatters.push(c);
  }
  process.stderr.write(`soak-clients: ${viewers.length} viewers, ${chatters.length} chatters\n`);

  const summary = { sent: 0, acked: 0, refused: 0, unanswered: 0 };
  const inFlight = new Set();
  let stop = false;
  process.on('SIGTERM', () => { stop = true; });
  const end = Date.now() + opt.duration * 1000;
  const interval = 1000 / opt.rate;
  for (let n = 0; !stop && Date.now() < end; n += 1) {
    const c = chatters[n % chatters.length];
    const p = c.emit('stream:chat', { stream_id: streams[(n % chatters.length) % streams.length], message: `soak message ${n}` })
      .then((ack) => {
        if (ack?.ok) summary.acked += 1;
        else if (ack) summary.refused += 1;
        else summary.unanswered += 1;
      });
    summary.sent += 1;
    inFlight.add(p);
    p.finally(() => inFlight.delete(p));
    await sleep(interval);
  }
  await Promise.all(inFlight);
  summary.viewers = { connected: viewers.length, connectFailures, lost: viewers.filter((v) => v.closed).length };
  for (const c of [...viewers, ...chatters]) c.ws.close();
  // A file, written before exiting: process.exit does not wait for a pipe to drain.
  fs.writeFileSync(opt.summary, JSON.stringify(summary) + '\n');
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`soak-clients: ${e.stack}\n`);
  process.exit(1);
});
