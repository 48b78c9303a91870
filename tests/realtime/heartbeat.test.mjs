// Engine.IO heartbeat: the open packet announces --socketio-ping-interval-ms and
// --socketio-ping-timeout-ms; a client that stops answering pings (over
// WebSocket, or a polling client that stops polling) is closed once pingInterval
// + pingTimeout have passed and counted out of its room, while one that answers
// stays connected for as long as it keeps answering.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { join, scaled, scenario, waitFor, waitUntil } from './harness.mjs';

// Short enough for the test, long enough that a loaded machine answers in time
// (the timeout is what a pong may take, so it grows with SOUK_TEST_TIME_SCALE).
const INTERVAL_MS = 500;
const TIMEOUT_MS = scaled(1500);
const HEARTBEAT_ARGS = ['--socketio-ping-interval-ms', String(INTERVAL_MS), '--socketio-ping-timeout-ms', String(TIMEOUT_MS)];

/** The open packet's JSON from Engine.IO's first polling request. */
async function openPacket(url) {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(scaled(5000)) });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  assert.equal(body[0], '0', `an open packet, got ${body}`);
  return JSON.parse(body.slice(1));
}

test('the open packet announces the default heartbeat, 25000 and 20000 ms', { timeout: scaled(30_000) }, () =>
  scenario(async (ctx) => {
    const open = await openPacket(ctx.url);
    assert.equal(open.pingInterval, 25000);
    assert.equal(open.pingTimeout, 20000);
  }));

test('the open packet announces the configured heartbeat (polling and WebSocket)', { timeout: scaled(30_000) }, () =>
  scenario(async (ctx) => {
    const open = await openPacket(ctx.url);
    assert.equal(open.pingInterval, INTERVAL_MS);
    assert.equal(open.pingTimeout, TIMEOUT_MS);
    // A session that starts on WebSocket gets its open packet as the first message.
    const ws = ctx.track(new WebSocket(`ws://127.0.0.1:${ctx.server.port}/socket.io/?EIO=4&transport=websocket`));
    ws.on('error', () => {});
    const first = await new Promise((resolve) => ws.once('message', (data) => resolve(data.toString())));
    assert.equal(first[0], '0', `an open packet, got ${first}`);
    const wsOpen = JSON.parse(first.slice(1));
    assert.equal(wsOpen.pingInterval, INTERVAL_MS);
    assert.equal(wsOpen.pingTimeout, TIMEOUT_MS);
  }, { serverArgs: HEARTBEAT_ARGS }));

/**
 * A raw Engine.IO + Socket.IO session over WebSocket that joins `streamId` and
 * then never answers a ping. Resolves to {requestedAt, closedAt, pings}.
 */
async function silentWebSocketViewer(ctx, streamId) {
  const requestedAt = Date.now();
  const ws = ctx.track(new WebSocket(`ws://127.0.0.1:${ctx.server.port}/socket.io/?EIO=4&transport=websocket`));
  ws.on('error', () => {});
  let pings = 0;
  const joined = new Promise((resolve) => {
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === '2') pings += 1;  // a ping, never answered
      else if (text.startsWith('40')) ws.send(`420${JSON.stringify(['stream:join', { stream_id: streamId }])}`);
      else if (text.startsWith('430')) resolve(JSON.parse(text.slice(3))[0]);
    });
  });
  ws.on('open', () => ws.send('40'));
  const closed = new Promise((resolve) => ws.on('close', () => resolve(Date.now())));
  return { requestedAt, joined, closed, pings: () => pings };
}

test('a WebSocket client that stops answering pings is closed after pingInterval + pingTimeout and leaves its room', { timeout: scaled(30_000) }, () =>
  scenario(async (ctx) => {
    const { streamId } = await ctx.liveStream();
    const watcher = await ctx.connect({ mode: 'websocket' });
    await join(watcher, streamId);

    const joinedTwo = waitFor(watcher, 'viewer:joined', (p) => p.viewerCount === 2);
    const silent = await silentWebSocketViewer(ctx, streamId);
    const ack = await silent.joined;
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await joinedTwo;
    const left = waitFor(watcher, 'viewer:left', (p) => p.streamId === streamId, scaled(10_000));

    const closedAt = await Promise.race([
      silent.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the silent client was never closed')), scaled(10_000))),
    ]);
    const lived = closedAt - silent.requestedAt;
    // Not before the heartbeat allows (unscaled: the server's own timers), soon after.
    assert.ok(lived >= INTERVAL_MS + TIMEOUT_MS, `closed after ${lived} ms, before ${INTERVAL_MS} + ${TIMEOUT_MS}`);
    assert.ok(lived <= INTERVAL_MS + TIMEOUT_MS + scaled(3000), `closed after ${lived} ms`);
    assert.equal(silent.pings(), 1, 'one ping, unanswered, then the close');

    assert.deepEqual(await left, { streamId, viewerCount: 1, userId: null });
    await waitUntil('REST viewerCount 1', async () => (await ctx.request('GET', `/streams/${streamId}`)).viewerCount === 1, scaled(5000));
  }, { serverArgs: HEARTBEAT_ARGS }));

test('a polling client that stops polling is closed after pingInterval + pingTimeout and leaves its room', { timeout: scaled(30_000) }, () =>
  scenario(async (ctx) => {
    const { streamId } = await ctx.liveStream();
    const watcher = await ctx.connect({ mode: 'websocket' });
    await join(watcher, streamId);

    // Open, Socket.IO connect and join over raw long-polling, then no more GETs.
    const requestedAt = Date.now();
    const base = `${ctx.url}/socket.io/?EIO=4&transport=polling`;
    const opened = await (await fetch(base, { signal: AbortSignal.timeout(scaled(5000)) })).text();
    const { sid } = JSON.parse(opened.slice(1));
    const post = async (body) => {
      const res = await fetch(`${base}&sid=${sid}`, { method: 'POST', body, signal: AbortSignal.timeout(scaled(5000)) });
      assert.equal(await res.text(), 'ok');
    };
    const get = async () => (await fetch(`${base}&sid=${sid}`, { signal: AbortSignal.timeout(scaled(5000)) })).text();
    await post('40');
    assert.match(await get(), /^40\{"sid":/);
    const joinedTwo = waitFor(watcher, 'viewer:joined', (p) => p.viewerCount === 2);
    await post(`420${JSON.stringify(['stream:join', { stream_id: streamId }])}`);
    await joinedTwo;
    const left = waitFor(watcher, 'viewer:left', (p) => p.streamId === streamId, scaled(10_000));

    assert.deepEqual(await left, { streamId, viewerCount: 1, userId: null });
    const lived = Date.now() - requestedAt;
    assert.ok(lived >= INTERVAL_MS + TIMEOUT_MS, `left after ${lived} ms, before ${INTERVAL_MS} + ${TIMEOUT_MS}`);
    // The session is gone: a poll on its sid is refused.
    const res = await fetch(`${base}&sid=${sid}`, { signal: AbortSignal.timeout(scaled(5000)) });
    assert.equal(res.status, 400, await res.text());
    await waitUntil('REST viewerCount 1', async () => (await ctx.request('GET', `/streams/${streamId}`)).viewerCount === 1, scaled(5000));
  }, { serverArgs: HEARTBEAT_ARGS }));

for (const mode of ['default', 'websocket']) {
  test(`a client that answers every ping stays connected over ten heartbeats (${mode})`, { timeout: scaled(30_000) }, () =>
    scenario(async (ctx) => {
      const { streamId } = await ctx.liveStream();
      const s = await ctx.connect({ mode });
      await join(s, streamId);
      let disconnected = null;
      s.on('disconnect', (reason) => { disconnected = reason; });
      let pings = 0;
      s.io.engine.on('ping', () => { pings += 1; });
      // Ten pings answered: ten times the client's own limit of pingInterval + pingTimeout
      // without a ping would have ended it.
      await waitUntil('ten pings', () => pings >= 10 || disconnected, 10 * (INTERVAL_MS + TIMEOUT_MS) + scaled(5000));
      assert.equal(disconnected, null, `disconnected (${disconnected}) after ${pings} pings`);
      const details = await ctx.request('GET', `/streams/${streamId}`);
      assert.equal(details.viewerCount, 1);
    }, { serverArgs: HEARTBEAT_ARGS }));
}

