// Rooms: stream:join / stream:leave, the stream:joined answer, viewer:joined and
// viewer:left with the count of sockets in the room, a disconnect as a leave.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { MODES, emitWithAck, join, received, scenario, waitFor, waitForWebSocket, scaled, roundTrip } from './harness.mjs';

for (const mode of MODES) {
  describe(`rooms (${mode})`, () => {
    test('joining an unknown stream is refused with stream_not_found', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const s = await ctx.connect({ mode });
        const ack = await emitWithAck(s, 'stream:join', { stream_id: randomUUID() });
        assert.equal(ack.ok, false);
        assert.equal(ack.error?.code, 'stream_not_found');
        assert.equal(typeof ack.error?.message, 'string');
        assert.ok(ack.error.message.length > 0);
        await roundTrip(s);
        assert.deepEqual(received(s, 'stream:joined'), []);
        assert.deepEqual(received(s, 'viewer:joined'), []);
      }));

    test('a refused event without an ack gets an error event', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const s = await ctx.connect({ mode });
        const err = waitFor(s, 'error', (e) => e?.code === 'stream_not_found');
        s.emit('stream:join', { stream_id: randomUUID() });
        const e = await err;
        assert.equal(typeof e.message, 'string');
        assert.ok(s.connected, 'the socket stays connected after a refused event');
      }));

    test('join answers stream:joined and tells the room viewer:joined', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId, productId } = await ctx.liveStream();
        const s = await ctx.connect({ mode });
        const viewerJoined = waitFor(s, 'viewer:joined', (p) => p?.streamId === streamId);
        const { ack, joined } = await join(s, streamId);
        assert.equal(ack.ok, true);
        assert.equal(joined.streamId, streamId);
        assert.equal(joined.viewerCount, 1);
        assert.deepEqual(joined.recentChat, []);
        assert.ok(Array.isArray(joined.products), 'products is an array');
        assert.equal(joined.products.length, 1);
        const product = joined.products[0];
        assert.ok(
          product.id === productId || product.productId === productId,
          `the attached product is listed: ${JSON.stringify(product)}`,
        );
        const vj = await viewerJoined;
        assert.deepEqual(vj, { streamId, viewerCount: 1, userId: null });
        if (mode === 'default') await waitForWebSocket(s);
      }));

    test('counts across clients: 1, 2, 3 on join; leave and disconnect give viewer:left', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const b2 = await ctx.register('buyer');
        const b3 = await ctx.register('buyer');
        const c1 = await ctx.connect({ mode }); // anonymous
        const c2 = await ctx.connect({ mode, token: b2.token });
        const c3 = await ctx.connect({ mode, token: b3.token });

        const j1 = waitFor(c1, 'viewer:joined', (p) => p.viewerCount === 1);
        const r1 = await join(c1, streamId);
        assert.equal(r1.joined.viewerCount, 1);
        assert.deepEqual(await j1, { streamId, viewerCount: 1, userId: null });

        const j2 = [c1, c2].map((c) => waitFor(c, 'viewer:joined', (p) => p.viewerCount === 2));
        const r2 = await join(c2, streamId);
        assert.equal(r2.joined.viewerCount, 2);
        for (const p of await Promise.all(j2)) assert.deepEqual(p, { streamId, viewerCount: 2, userId: b2.id });

        const j3 = [c1, c2, c3].map((c) => waitFor(c, 'viewer:joined', (p) => p.viewerCount === 3));
        const r3 = await join(c3, streamId);
        assert.equal(r3.joined.viewerCount, 3);
        for (const p of await Promise.all(j3)) assert.deepEqual(p, { streamId, viewerCount: 3, userId: b3.id });

        // c3 leaves explicitly.
        const left3 = [c1, c2].map((c) => waitFor(c, 'viewer:left', (p) => p.userId === b3.id));
        const leaveAck = await emitWithAck(c3, 'stream:leave', { stream_id: streamId });
        assert.equal(leaveAck.ok, true);
        const c3Mark = c3.received.length;
        for (const p of await Promise.all(left3)) assert.deepEqual(p, { streamId, viewerCount: 2, userId: b3.id });

        // c2 disconnects: counted as a leave.
        const left2 = waitFor(c1, 'viewer:left', (p) => p.userId === b2.id);
        c2.disconnect();
        assert.deepEqual(await left2, { streamId, viewerCount: 1, userId: b2.id });

        // A new joiner sees the current count (c1 and itself).
        const c4 = await ctx.connect({ mode });
        const r4 = await join(c4, streamId);
        assert.equal(r4.joined.viewerCount, 2);

        // c3 is no longer in the room: nothing of the room reached it after its leave
        // (c2's viewer:left and c4's viewer:joined were broadcast before c4's join was acknowledged).
        await roundTrip(c3);
        const after = c3.received.slice(c3Mark).filter((r) => r.event.startsWith('viewer:'));
        assert.deepEqual(after, [], 'c3 got room events after leaving');
        if (mode === 'default') for (const c of [c1, c3, c4]) await waitForWebSocket(c);
      }));

    test('the anonymous joiner is counted; REST viewerCount agrees', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const a = await ctx.connect({ mode });
        const b = await ctx.connect({ mode });
        await join(a, streamId);
        await join(b, streamId);
        const details = await ctx.request('GET', `/streams/${streamId}`);
        assert.equal(details.viewerCount, 2);
      }));
  });
}
