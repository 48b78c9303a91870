// Events the server pushes: periodic viewer counts, product tags, the end of a
// stream, notifications at go-live; and the stream figures the sockets produce.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MODES, emitWithAck, join, scenario, waitFor, waitForWebSocket, scaled } from './harness.mjs';

for (const mode of MODES) {
  describe(`server events (${mode})`, () => {
    test('stream:viewer-count reaches a live room periodically with the current count', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { streamId } = await ctx.liveStream();
        const a = await ctx.connect({ mode });
        await join(a, streamId);
        // --viewer-count-interval 1: two broadcasts within about 3 s.
        const first = await waitFor(a, 'stream:viewer-count', (p) => p.streamId === streamId, scaled(3000));
        assert.deepEqual(first, { streamId, count: 1 });
        const second = await waitFor(a, 'stream:viewer-count', (p) => p.streamId === streamId, scaled(3000));
        assert.deepEqual(second, { streamId, count: 1 });

        const b = await ctx.connect({ mode });
        await join(b, streamId);
        const both = [a, b].map((s) => waitFor(s, 'stream:viewer-count', (p) => p.count === 2, scaled(3000)));
        for (const p of await Promise.all(both)) assert.deepEqual(p, { streamId, count: 2 });
        if (mode === 'default') for (const s of [a, b]) await waitForWebSocket(s);
      }));

    test("product:tagged follows the owner's REST tag", { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { seller, streamId, productId } = await ctx.liveStream();
        const s = await ctx.connect({ mode });
        await join(s, streamId);
        const tagged = waitFor(s, 'product:tagged', (p) => p.productId === productId);
        await ctx.tag(seller.token, streamId, productId, 0.42, 0.63, 120);
        assert.deepEqual(await tagged, { streamId, productId, x: 0.42, y: 0.63, timestampSeconds: 120 });
      }));

    test('stream:ended reaches the room after /end; chat is then refused', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { seller, streamId } = await ctx.liveStream();
        const buyer = await ctx.register('buyer');
        const anon = await ctx.connect({ mode });
        const user = await ctx.connect({ mode, token: buyer.token });
        await join(anon, streamId);
        await join(user, streamId);
        const ended = [anon, user].map((s) => waitFor(s, 'stream:ended', (p) => p?.streamId === streamId));
        const data = await ctx.end(seller.token, streamId);
        assert.equal(data.status, 'ended');
        for (const p of await Promise.all(ended)) assert.equal(p.streamId, streamId);
        const ack = await emitWithAck(user, 'stream:chat', { stream_id: streamId, message: 'still there?' });
        assert.equal(ack.ok, false, JSON.stringify(ack));
        assert.equal(ack.error?.code, 'stream_ended');
      }));

    test('a connected follower gets notification:new when the seller goes live', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const seller = await ctx.register('seller');
        const follower = await ctx.register('buyer');
        const stranger = await ctx.register('buyer');
        await ctx.follow(follower.token, seller.id);
        const streamId = await ctx.createStream(seller.token, { notify_followers: true });
        const fs = await ctx.connect({ mode, token: follower.token });
        const ss = await ctx.connect({ mode, token: stranger.token });
        const note = waitFor(fs, 'notification:new', (p) => p?.notification?.streamId === streamId);
        const live = await ctx.goLive(seller.token, streamId);
        assert.equal(live.notificationsSent, 1);
        const p = await note;
        assert.equal(p.notification.kind, 'stream_live');
        assert.equal(p.notification.streamId, streamId);
        assert.equal(typeof p.notification.id, 'string');
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(
          ss.received.filter((r) => r.event === 'notification:new').length,
          0,
          'a user who does not follow the seller is not notified',
        );
      }));

    test('the figures of /end reflect the socket activity', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const { seller, streamId } = await ctx.liveStream();
        const b1 = await ctx.register('buyer');
        const b2 = await ctx.register('buyer');
        const s1 = await ctx.connect({ mode, token: b1.token });
        const s2 = await ctx.connect({ mode, token: b2.token });
        await join(s1, streamId);
        await join(s2, streamId);

        const chats = [['first', s1], ['second', s2], ['third', s1]];
        for (const [text, s] of chats) {
          const got = [s1, s2].map((x) => waitFor(x, 'chat:message', (m) => m.message === text));
          const ack = await emitWithAck(s, 'stream:chat', { stream_id: streamId, message: text });
          assert.equal(ack.ok, true, JSON.stringify(ack));
          await Promise.all(got);
        }
        for (const [emoji, s] of [['❤️', s1], ['🔥', s2]]) {
          const got = [s1, s2].map((x) => waitFor(x, 'reaction:new', (r) => r.emoji === emoji));
          const ack = await emitWithAck(s, 'stream:reaction', { stream_id: streamId, emoji });
          assert.equal(ack.ok, true, JSON.stringify(ack));
          await Promise.all(got);
        }

        const data = await ctx.end(seller.token, streamId);
        const { stats } = data;
        assert.equal(stats.peakViewers, 2, JSON.stringify(stats));
        assert.equal(stats.uniqueViewers, 2, JSON.stringify(stats));
        assert.equal(stats.chatMessages, 3, JSON.stringify(stats));
        assert.equal(stats.totalLikes, 2, JSON.stringify(stats));
        assert.equal(stats.reactions['❤️'], 1, JSON.stringify(stats));
        assert.equal(stats.reactions['🔥'], 1, JSON.stringify(stats));
        for (const [emoji, n] of Object.entries(stats.reactions)) {
          if (emoji !== '❤️' && emoji !== '🔥') assert.equal(n, 0, `${emoji}: ${JSON.stringify(stats)}`);
        }

        const analytics = await ctx.analytics(seller.token, streamId);
        assert.equal(analytics.basicStats.peakViewers, 2);
        assert.equal(analytics.basicStats.uniqueViewers, 2);
        assert.equal(analytics.engagement.chatMessages, 3);
        assert.equal(analytics.engagement.totalLikes, 2);
        assert.equal(analytics.engagement.reactions['❤️'], 1);
        assert.equal(analytics.engagement.reactions['🔥'], 1);
      }));
  });
}
