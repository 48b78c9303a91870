// Robustness: a dropped connection reconnects by itself and works again; malformed
// frames on a raw WebSocket close that session alone.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { MODES, emitWithAck, join, scenario, waitFor, waitForWebSocket, scaled, within } from './harness.mjs';

/** A raw Engine.IO WebSocket session: {ws, messages, next(pred, ms), closed}. */
async function rawSession(ctx) {
  const ws = ctx.track(new WebSocket(`ws://127.0.0.1:${ctx.server.port}/socket.io/?EIO=4&transport=websocket`));
  const messages = [];
  const waiters = [];
  ws.on('error', () => {}); // a reset while sending is expected once the server closes
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? `<binary ${data.length}>` : data.toString();
    messages.push(text);
    for (const w of [...waiters]) {
      if (w.pred(text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(text);
      }
    }
  });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const next = (pred, ms = scaled(5000)) => {
    const hit = messages.find(pred);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`raw session: no matching message in ${ms} ms; got ${JSON.stringify(messages)}`));
      }, ms);
      const w = {
        pred,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      };
      waiters.push(w);
    });
  };
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, messages, next, closed };
}

const GARBAGE = [
  ['an unknown Engine.IO packet ("hello")', () => 'hello'],
  ['a Socket.IO packet that is not JSON ("4{not json")', () => '4{not json'],
  ['an event whose name is not a string ("42[1,2]")', () => '42[1,2]'],
  [
    'a 2 MB message (over maxPayload)',
    (streamId) => `42${JSON.stringify(['stream:chat', { stream_id: streamId, message: 'x'.repeat(2 * 1024 * 1024) }])}`,
  ],
];

for (const mode of MODES) {
  describe(`robustness (${mode})`, () => {
    test('a dropped connection reconnects by itself and can join and chat again', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const buyer = await ctx.register('buyer');
        const observer = await ctx.connect({ mode: 'websocket' });
        await join(observer, streamId);
        const s = await ctx.connect({ mode, token: buyer.token });
        if (mode === 'default') await waitForWebSocket(s);
        await join(s, streamId);
        const firstId = s.id;

        const disconnected = waitFor(s, 'disconnect');
        const reconnected = waitFor(s, 'connect', () => true, scaled(10_000));
        const left = waitFor(observer, 'viewer:left', (p) => p.userId === buyer.id);
        s.io.engine.close(); // the transport drops
        await disconnected;
        assert.deepEqual(await left, { streamId, viewerCount: 1, userId: buyer.id }, 'the drop counts as a leave');
        await reconnected;
        assert.equal(s.connected, true);
        assert.notEqual(s.id, firstId, 'a new session');

        const { joined } = await join(s, streamId);
        assert.equal(joined.viewerCount, 2);
        const got = [s, observer].map((x) => waitFor(x, 'chat:message', (m) => m.message === 'back again'));
        const ack = await emitWithAck(s, 'stream:chat', { stream_id: streamId, message: 'back again' });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        for (const m of await Promise.all(got)) assert.equal(m.userId, buyer.id);
        if (mode === 'default') await waitForWebSocket(s);
      }));

    test('malformed frames close the raw session; a normal client keeps working', { timeout: scaled(60_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const buyer = await ctx.register('buyer');
        const normal = await ctx.connect({ mode, token: buyer.token });
        await join(normal, streamId);
        if (mode === 'default') await waitForWebSocket(normal);

        for (const [what, make] of GARBAGE) {
          const raw = await rawSession(ctx);
          const open = await raw.next((m) => m.startsWith('0{'));
          assert.match(open, /"sid"/, 'Engine.IO open packet');
          raw.ws.send('40');
          await raw.next((m) => m.startsWith('40'));
          raw.ws.send(make(streamId));
          await within(raw.closed, scaled(5000), `the session after ${what} is closed`);

          assert.equal(normal.connected, true, `the normal client is still connected after ${what}`);
          const text = `still here after ${what}`;
          const got = waitFor(normal, 'chat:message', (m) => m.message === text);
          const ack = await emitWithAck(normal, 'stream:chat', { stream_id: streamId, message: text });
          assert.equal(ack.ok, true, `${what}: ${JSON.stringify(ack)}`);
          await got;
        }
        // The server still accepts new clients.
        const fresh = await ctx.connect({ mode });
        const { joined } = await join(fresh, streamId);
        assert.equal(joined.viewerCount, 2);
      }));
  });
}
