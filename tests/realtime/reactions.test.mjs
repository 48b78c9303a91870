// Reactions (stream:reaction → reaction:new) and the owner's stream:prepare.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MODES, REACTION_EMOJIS, emitWithAck, join, received, roundTrip, scaled, scenario, waitFor, waitForWebSocket } from './harness.mjs';

function assertRefused(ack, code) {
  assert.equal(ack?.ok, false, `expected a refusal with ${code}, got ${JSON.stringify(ack)}`);
  assert.equal(ack.error?.code, code, `expected ${code}, got ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error.message, 'string');
}

for (const mode of MODES) {
  describe(`reactions (${mode})`, () => {
    test('each allowed emoji reaches every member as reaction:new', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const buyer = await ctx.register('buyer');
        const reactor = await ctx.connect({ mode, token: buyer.token });
        const watcher = await ctx.connect({ mode });
        await join(reactor, streamId);
        await join(watcher, streamId);
        for (const emoji of REACTION_EMOJIS) {
          const got = [reactor, watcher].map((s) => waitFor(s, 'reaction:new', (r) => r.emoji === emoji));
          const ack = await emitWithAck(reactor, 'stream:reaction', { stream_id: streamId, emoji });
          assert.equal(ack.ok, true, `${emoji}: ${JSON.stringify(ack)}`);
          // One reaction in its room's interval: count 1 (issue 21 added the count).
          for (const r of await Promise.all(got)) assert.deepEqual(r, { streamId, emoji, userId: buyer.id, count: 1 });
        }
        if (mode === 'default') for (const s of [reactor, watcher]) await waitForWebSocket(s);
      }));

    test('an emoji outside the set is invalid_emoji', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const buyer = await ctx.register('buyer');
        const s = await ctx.connect({ mode, token: buyer.token });
        await join(s, streamId);
        assertRefused(await emitWithAck(s, 'stream:reaction', { stream_id: streamId, emoji: '👍' }), 'invalid_emoji');
        assertRefused(await emitWithAck(s, 'stream:reaction', { stream_id: streamId, emoji: 'heart' }), 'invalid_emoji');
        await roundTrip(s);
        assert.deepEqual(received(s, 'reaction:new'), []);
      }));

    test('an anonymous reaction is unauthorized', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const anon = await ctx.connect({ mode });
        await join(anon, streamId);
        assertRefused(await emitWithAck(anon, 'stream:reaction', { stream_id: streamId, emoji: '🔥' }), 'unauthorized');
        const err = waitFor(anon, 'error', (e) => e?.code === 'unauthorized');
        anon.emit('stream:reaction', { stream_id: streamId, emoji: '🔥' });
        await err;
        await roundTrip(anon);
        assert.deepEqual(received(anon, 'reaction:new'), []);
      }));
  });

  describe(`stream:prepare (${mode})`, () => {
    // The docs: a player buffers about three segments behind the live edge, so
    // stream:ready announces 3 x --hls-segment-seconds (default 2).
    for (const [segmentSeconds, serverArgs] of [[2, []], [5, ['--hls-segment-seconds', '5']]]) {
      test(`the owner gets stream:ready with estimatedLatencySeconds 3 x ${segmentSeconds} s segments`, { timeout: scaled(30_000) }, () =>
        scenario(async (ctx) => {
          const { seller, streamId } = await ctx.liveStream();
          const s = await ctx.connect({ mode, token: seller.token });
          const ready = waitFor(s, 'stream:ready', (r) => r.streamId === streamId);
          const ack = await emitWithAck(s, 'stream:prepare', { stream_id: streamId });
          assert.equal(ack.ok, true, JSON.stringify(ack));
          const r = await ready;
          assert.equal(r.estimatedLatencySeconds, 3 * segmentSeconds);
          if (mode === 'default') await waitForWebSocket(s);
        }, { serverArgs }));
    }

    test('a non-owner is forbidden; an anonymous socket is unauthorized', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const otherSeller = await ctx.register('seller');
        const buyer = await ctx.register('buyer');
        for (const user of [otherSeller, buyer]) {
          const s = await ctx.connect({ mode, token: user.token });
          assertRefused(await emitWithAck(s, 'stream:prepare', { stream_id: streamId }), 'forbidden');
          await roundTrip(s);
          assert.deepEqual(received(s, 'stream:ready'), []);
        }
        const anon = await ctx.connect({ mode });
        assertRefused(await emitWithAck(anon, 'stream:prepare', { stream_id: streamId }), 'unauthorized');
      }));
  });
}
