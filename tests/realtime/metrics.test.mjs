// GET /metrics as the realtime plane moves it: chat messages and reactions
// stored count once each (refused ones do not), and sessions by transport.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MODES, emitWithAck, join, scenario, waitForWebSocket, scaled } from './harness.mjs';

// The unlabeled or labeled series' value in the text format (0 when absent).
async function scrape(url) {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const values = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return (series) => values.get(series) ?? 0;
}

for (const mode of MODES) {
  describe(`metrics (${mode})`, () => {
    test('chat messages and reactions are counted once stored; sessions by transport', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const buyer = await ctx.register('buyer');
        const s = await ctx.connect({ mode, token: buyer.token });
        const watcher = await ctx.connect({ mode });
        await join(s, streamId);
        if (mode === 'default') for (const c of [s, watcher]) await waitForWebSocket(c);
        const before = await scrape(ctx.url);
        assert.equal(before('souk_realtime_sessions{transport="websocket"}'), 2);
        assert.equal(before('souk_realtime_sessions{transport="polling"}'), 0);

        for (const message of ['one', 'two']) {
          const ack = await emitWithAck(s, 'stream:chat', { stream_id: streamId, message });
          assert.equal(ack.ok, true, JSON.stringify(ack));
        }
        for (const emoji of ['❤️', '🔥', '👏']) {
          const ack = await emitWithAck(s, 'stream:reaction', { stream_id: streamId, emoji });
          assert.equal(ack.ok, true, JSON.stringify(ack));
        }
        // Refused: not stored, not counted.
        assert.equal((await emitWithAck(s, 'stream:chat', { stream_id: streamId, message: '   ' })).ok, false);
        assert.equal((await emitWithAck(s, 'stream:reaction', { stream_id: streamId, emoji: '👍' })).ok, false);

        const after = await scrape(ctx.url);
        assert.equal(after('souk_chat_messages_total') - before('souk_chat_messages_total'), 2);
        assert.equal(after('souk_reactions_total') - before('souk_reactions_total'), 3);

        // A session that closes leaves the gauge.
        watcher.close();
        let now = after;
        for (let i = 0; i < 50 && now('souk_realtime_sessions{transport="websocket"}') !== 1; ++i) {
          await new Promise((r) => setTimeout(r, 100));
          now = await scrape(ctx.url);
        }
        assert.equal(now('souk_realtime_sessions{transport="websocket"}'), 1);
      }));
  });
}
