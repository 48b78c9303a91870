// Connecting: both transports (long-polling with the upgrade to WebSocket, and
// WebSocket from the start), anonymous sockets, bad, revoked and expired tokens,
// other namespaces.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { ApiError, MODES, scenario, waitForWebSocket, scaled } from './harness.mjs';

for (const mode of MODES) {
  describe(`connection (${mode})`, () => {
    test('an anonymous socket connects', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const s = await ctx.connect({ mode });
        assert.equal(s.connected, true);
        assert.equal(typeof s.id, 'string');
        assert.ok(s.id.length > 0);
        if (mode === 'default') {
          assert.equal(s.transportsSeen[0], 'polling', 'the default client starts with long-polling');
          await waitForWebSocket(s);
          assert.equal(s.io.engine.transport.name, 'websocket');
          assert.equal(s.connected, true, 'still connected after the upgrade');
        } else {
          assert.deepEqual(s.transportsSeen, ['websocket']);
          assert.equal(s.io.engine.transport.name, 'websocket');
        }
      }));

    test('a socket with a valid token connects', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const buyer = await ctx.register('buyer');
        const s = await ctx.connect({ token: buyer.token, mode });
        assert.equal(s.connected, true);
        if (mode === 'default') await waitForWebSocket(s);
        assert.equal(s.io.engine.transport.name, 'websocket');
      }));

    test('a bad token gets connect_error naming the token', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const err = await ctx.connectError({ token: 'not-a-real-token-0000000000000000000000000', mode });
        assert.match(String(err.message), /token/i);
      }));

    test('a revoked token gets connect_error', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const buyer = await ctx.register('buyer');
        await ctx.request('POST', '/auth/logout', { token: buyer.token, body: {} });
        const err = await ctx.connectError({ token: buyer.token, mode });
        assert.match(String(err.message), /token/i);
      }));

    test('a namespace other than "/" gets connect_error', { timeout: scaled(30_000) }, () =>
      scenario(async (ctx) => {
        const err = await ctx.connectError({ path: '/admin', mode });
        assert.ok(err instanceof Error);
        // The server still serves the main namespace afterwards.
        const s = await ctx.connect({ mode });
        assert.equal(s.connected, true);
      }));
  });
}

// Tokens expire --token-ttl-seconds after they were issued: until then the API and
// Socket.IO take them, from then on the API answers 401 invalid_token and
// Socket.IO a connect_error; logging in again gives a token that works.
const TTL_SECONDS = 4;
test(`a token expires after --token-ttl-seconds (${TTL_SECONDS} s): 401 invalid_token and connect_error, not before`, { timeout: scaled(30_000) + TTL_SECONDS * 1000 }, () =>
  scenario(async (ctx) => {
    const me = (token) => ctx.request('GET', '/users/me', { token });
    const registerSentAt = Date.now();  // the server issued the token after this
    const buyer = await ctx.register('buyer');
    const expiresNoSoonerThan = registerSentAt + TTL_SECONDS * 1000;

    const s = await ctx.connect({ token: buyer.token, mode: 'websocket' });
    assert.equal(s.connected, true);
    s.close();
    // Poll GET /users/me until it is refused: 200 until the expiry, never after a 401.
    const answers = [];
    for (;;) {
      let status = 200;
      try {
        assert.equal((await me(buyer.token)).id, buyer.id);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        assert.equal(err.status, 401, err.message);
        assert.equal(err.body?.error?.code ?? err.body?.code, 'invalid_token', err.message);
        status = 401;
      }
      const at = Date.now();
      answers.push({ status, at });
      if (status === 401) break;
      assert.ok(at < expiresNoSoonerThan + scaled(5000), `the token still works ${at - registerSentAt} ms after it was issued`);
      await sleep(100);  // polling interval
    }
    const refusedAt = answers.at(-1).at;
    // Refused no earlier than the TTL allows (the answer came after the server decided).
    assert.ok(refusedAt >= expiresNoSoonerThan, `refused ${refusedAt - registerSentAt} ms after register was sent`);
    assert.ok(answers.length >= 2 && answers[0].status === 200, JSON.stringify(answers));

    const err = await ctx.connectError({ token: buyer.token, mode: 'websocket' });
    assert.match(String(err.message), /token/i);

    const again = await ctx.request('POST', '/auth/login', { body: { username: buyer.username, password: 'correct-horse-battery' } });
    assert.equal((await me(again.token)).id, buyer.id);
    assert.equal((await ctx.connect({ token: again.token, mode: 'websocket' })).connected, true);
  }, { serverArgs: ['--token-ttl-seconds', String(TTL_SECONDS)] }));

// The upgrade as engine.io-client performs it: after the server's 3probe the
// client pauses polling, which waits for the GET in flight to return, and only
// then sends 5 (upgrade) on the WebSocket. So the server must end the poll in
// flight (with a noop) once it has answered the probe, not only after 5.
test('upgrade: the poll in flight is answered once the probe is, then 5 moves the session', { timeout: scaled(30_000) }, () =>
  scenario(async (ctx) => {
    const base = `${ctx.url}/socket.io/?EIO=4&transport=polling`;
    const open = await (await fetch(base)).text();
    assert.match(open, /^0\{/, `open packet: ${open}`);
    const { sid } = JSON.parse(open.slice(1));
    const post = await fetch(`${base}&sid=${sid}`, { method: 'POST', body: '40' });
    assert.equal(post.status, 200);
    await post.text();
    const connected = await (await fetch(`${base}&sid=${sid}`)).text();
    assert.match(connected, /^40\{/, `CONNECT answer: ${connected}`);

    // The poll in flight, as the client always has one open.
    const started = Date.now();
    const inFlight = fetch(`${base}&sid=${sid}`, { signal: AbortSignal.timeout(scaled(20_000)) }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
      after: Date.now() - started,
    }));
    inFlight.catch(() => {});

    const ws = ctx.track(new WebSocket(`ws://127.0.0.1:${ctx.server.port}/socket.io/?EIO=4&transport=websocket&sid=${sid}`));
    ws.on('error', () => {});
    const wsMessages = [];
    const nextWs = (pred, ms = 5000) =>
      new Promise((resolve, reject) => {
        const hit = wsMessages.find(pred);
        if (hit !== undefined) return resolve(hit);
        const timer = setTimeout(() => reject(new Error(`ws: nothing matching in ${ms} ms: ${JSON.stringify(wsMessages)}`)), ms);
        ws.on('message', function onMessage() {
          const m = wsMessages.find(pred);
          if (m !== undefined) {
            clearTimeout(timer);
            ws.off('message', onMessage);
            resolve(m);
          }
        });
      });
    ws.on('message', (d) => wsMessages.push(d.toString()));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send('2probe');
    await nextWs((m) => m === '3probe');

    // Without 5 yet: the poll in flight must come back (the reference server sends a noop).
    const poll = await Promise.race([
      inFlight,
      new Promise((resolve) => setTimeout(() => resolve(null), scaled(3000))),
    ]);
    assert.ok(poll, `the GET in flight was not answered within ${scaled(3000)} ms of the probe (engine.io-client waits for it before sending 5)`);
    assert.equal(poll.status, 200);
    assert.match(poll.body, /6/, `a noop packet ends the poll: ${JSON.stringify(poll.body)}`);

    ws.send('5');
    // The session now runs on the WebSocket: an event with an ack is answered there.
    ws.send('420["stream:join",{"stream_id":"00000000-0000-4000-8000-000000000000"}]');
    const ack = await nextWs((m) => m.startsWith('430'));
    const [answer] = JSON.parse(ack.slice(3));
    assert.equal(answer.ok, false);
    assert.equal(answer.error.code, 'stream_not_found');
  }));
