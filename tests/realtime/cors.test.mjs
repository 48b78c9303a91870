// CORS on Engine.IO long-polling: with --cors-origins set to an allow-list, a
// listed page may read every polling response (open, POST, a poll answered
// later, the preflight), others may not; with the default (*), everyone may.
// Regression (issue 19): realtime honoured only "*", so an allow-list left
// polling responses without Access-Control-Allow-Origin.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scenario, scaled } from './harness.mjs';

const SHOP = 'https://shop.example';

async function get(url, origin) {
  const res = await fetch(url, { headers: { Origin: origin }, signal: AbortSignal.timeout(scaled(10_000)) });
  return { res, body: await res.text() };
}

function assertAllowed(res, origin, what) {
  assert.equal(res.headers.get('access-control-allow-origin'), origin, `${what}: Access-Control-Allow-Origin`);
  assert.match(res.headers.get('vary') ?? '', /\bOrigin\b/, `${what}: Vary`);
}

test('polling with an allow-list echoes the allowed origin on every response', { timeout: scaled(30_000) }, () =>
  scenario(
    async (ctx) => {
      const base = `${ctx.url}/socket.io/?EIO=4&transport=polling`;
      const open = await get(base, SHOP);
      assert.equal(open.res.status, 200);
      assert.match(open.body, /^0\{/);
      assertAllowed(open.res, SHOP, 'open');
      const { sid } = JSON.parse(open.body.slice(1));

      // A poll waiting for data, answered by the CONNECT reply the POST causes.
      const poll = get(`${base}&sid=${sid}`, SHOP);
      const post = await fetch(`${base}&sid=${sid}`, {
        method: 'POST',
        body: '40',
        headers: { Origin: SHOP },
        signal: AbortSignal.timeout(scaled(10_000)),
      });
      assert.equal(post.status, 200);
      assert.equal(await post.text(), 'ok');
      assertAllowed(post, SHOP, 'POST');
      const answered = await poll;
      assert.match(answered.body, /^40\{/, `CONNECT answer: ${answered.body}`);
      assertAllowed(answered.res, SHOP, 'poll');

      const preflight = await fetch(`${base}&sid=${sid}`, {
        method: 'OPTIONS',
        headers: { Origin: SHOP, 'Access-Control-Request-Method': 'POST' },
        signal: AbortSignal.timeout(scaled(10_000)),
      });
      assert.equal(preflight.status, 204);
      assertAllowed(preflight, SHOP, 'preflight');
      assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS');

      // An error answer too (unknown session).
      const unknown = await get(`${base}&sid=nope`, SHOP);
      assert.equal(unknown.res.status, 400);
      assertAllowed(unknown.res, SHOP, 'error');

      // Another page's origin is not echoed.
      const other = await get(base, 'https://evil.example');
      assert.equal(other.res.status, 200);
      assert.equal(other.res.headers.get('access-control-allow-origin'), null);
      assert.match(other.res.headers.get('vary') ?? '', /\bOrigin\b/);
    },
    { serverArgs: ['--cors-origins', SHOP] },
  ));

test('polling with the default origins (*) allows every page', { timeout: scaled(30_000) }, () =>
  scenario(async (ctx) => {
    const open = await get(`${ctx.url}/socket.io/?EIO=4&transport=polling`, SHOP);
    assert.equal(open.res.status, 200);
    assert.equal(open.res.headers.get('access-control-allow-origin'), '*');
  }));
