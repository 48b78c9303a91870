// The realtime authorization matrix: every client→server Socket.IO event of docs/api.md
// (stream:join, stream:leave, stream:chat, stream:reaction, stream:prepare) ×
// {anonymous, buyer, another seller, owner}, generated from one table, each cell
// both with an ack and without one (a refusal then comes as an `error` event).
// A garbage token and the owner's revoked token are refused at connect.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { emitWithAck, join, received, scenario, waitFor, scaled, roundTrip } from './harness.mjs';

const OK = 'ok';
const PRINCIPALS = ['anonymous', 'buyer', 'another seller', 'owner'];

// docs/api.md: "Anonymous sockets may join and watch; chatting and reacting need a valid
// token"; stream:prepare is the owner's. Whoever may not send an event is told so
// before anything about the payload or the stream is judged.
const everyone = { anonymous: OK, buyer: OK, 'another seller': OK, owner: OK };
const signedIn = (code = OK) => ({ anonymous: 'unauthorized', buyer: code, 'another seller': code, owner: code });
const allRefused = (code) => ({ anonymous: code, buyer: code, 'another seller': code, owner: code });

// stream: the stream the payload names: `live` (the owner's, chat on), `chatOff`
// (the owner's, live, enable_chat false), `ended` (the owner's, ended), `missing`.
// joined: the socket joins that stream before the event.
// confirm: what shows a success besides the ack: an event the watcher (a socket in
// the `live` room) or the sender itself receives, carrying the sender's userId.
const MATRIX = [
  { event: 'stream:join', stream: 'live', joined: false, payload: (id) => ({ stream_id: id }),
    expect: everyone, confirm: { on: 'watcher', event: 'viewer:joined' } },
  { event: 'stream:join', stream: 'missing', joined: false, payload: (id) => ({ stream_id: id }),
    expect: allRefused('stream_not_found') },
  { event: 'stream:leave', stream: 'live', joined: true, payload: (id) => ({ stream_id: id }),
    expect: everyone, confirm: { on: 'watcher', event: 'viewer:left' } },
  { event: 'stream:leave', stream: 'live', joined: false, payload: (id) => ({ stream_id: id }),
    expect: allRefused('not_joined') },
  { event: 'stream:chat', stream: 'live', joined: true, payload: (id) => ({ stream_id: id, message: 'Is it handmade?' }),
    expect: signedIn(), confirm: { on: 'watcher', event: 'chat:message' } },
  { event: 'stream:chat', stream: 'live', joined: true, payload: () => ({ message: 'no stream named' }),
    expect: signedIn('invalid_payload') },
  { event: 'stream:chat', stream: 'live', joined: true, payload: (id) => ({ stream_id: id, message: '   ' }),
    expect: signedIn('invalid_message') },
  { event: 'stream:chat', stream: 'chatOff', joined: true, payload: (id) => ({ stream_id: id, message: 'hello?' }),
    expect: signedIn('chat_disabled') },
  { event: 'stream:chat', stream: 'ended', joined: true, payload: (id) => ({ stream_id: id, message: 'too late' }),
    expect: signedIn('stream_ended') },
  { event: 'stream:reaction', stream: 'live', joined: true, payload: (id) => ({ stream_id: id, emoji: '🔥' }),
    expect: signedIn(), confirm: { on: 'watcher', event: 'reaction:new' } },
  { event: 'stream:reaction', stream: 'live', joined: true, payload: (id) => ({ stream_id: id, emoji: '👍' }),
    expect: signedIn('invalid_emoji') },
  { event: 'stream:reaction', stream: 'live', joined: true, payload: () => ({ emoji: '🔥' }),
    expect: signedIn('invalid_payload') },
  { event: 'stream:reaction', stream: 'ended', joined: true, payload: (id) => ({ stream_id: id, emoji: '💎' }),
    expect: signedIn('stream_ended') },
  { event: 'stream:prepare', stream: 'live', joined: false, payload: (id) => ({ stream_id: id }),
    expect: { anonymous: 'unauthorized', buyer: 'forbidden', 'another seller': 'forbidden', owner: OK },
    confirm: { on: 'self', event: 'stream:ready' } },
  { event: 'stream:prepare', stream: 'missing', joined: false, payload: (id) => ({ stream_id: id }),
    expect: signedIn('stream_not_found') },
  { event: 'stream:prepare', stream: 'live', joined: false, payload: () => ({}),
    expect: signedIn('invalid_payload') },
];

async function setUp(ctx) {
  const { seller: owner, streamId: live } = await ctx.liveStream();
  const buyer = await ctx.register('buyer');
  const otherSeller = await ctx.register('seller');
  const chatOff = await ctx.createStream(owner.token, { enable_chat: false });
  await ctx.goLive(owner.token, chatOff);
  const ended = await ctx.createStream(owner.token);
  await ctx.goLive(owner.token, ended);
  await ctx.end(owner.token, ended);
  const watcher = await ctx.connect();
  await join(watcher, live);
  return {
    owner,
    accounts: { buyer, 'another seller': otherSeller, owner },
    streams: { live, chatOff, ended, missing: randomUUID() },
    watcher,
  };
}

function describeCell(row, who, withAck) {
  return `${row.event} ${JSON.stringify(row.payload(`<${row.stream}>`))}${row.joined ? ' (joined)' : ''} ` +
    `as ${who}, ${withAck ? 'with an ack' : 'without an ack'}`;
}

// One call: a fresh socket for the principal, the row's setup, the event, the checks.
// Sockets stay open until the scenario ends, so no late viewer:left of theirs can
// confirm a later cell.
async function runCell(ctx, world, row, who, withAck) {
  const label = describeCell(row, who, withAck);
  const account = world.accounts[who];
  const socket = await ctx.connect(account ? { token: account.token } : {});
  const streamId = world.streams[row.stream];
  if (row.joined) await join(socket, streamId);
  const want = row.expect[who];
  assert.ok(want, `${label}: the table gives no expectation`);

  let confirmed = null;
  if (want === OK) {
    assert.ok(row.confirm, `${label}: a success needs a confirming event in the table`);
    const userId = account ? account.id : null;
    const target = row.confirm.on === 'watcher' ? world.watcher : socket;
    confirmed = waitFor(target, row.confirm.event,
      (p) => p?.streamId === streamId && (row.confirm.on === 'self' || p.userId === userId));
    confirmed.catch(() => {});
  }
  const payload = row.payload(streamId);
  if (withAck) {
    const ack = await emitWithAck(socket, row.event, payload);
    if (want === OK) {
      assert.equal(ack?.ok, true, `${label}: expected ok, got ${JSON.stringify(ack)}`);
    } else {
      assert.equal(ack?.ok, false, `${label}: expected ${want}, got ${JSON.stringify(ack)}`);
      assert.equal(ack.error?.code, want, `${label}: expected ${want}, got ${JSON.stringify(ack)}`);
      assert.ok(typeof ack.error.message === 'string' && ack.error.message.length > 0, label);
    }
  } else if (want === OK) {
    socket.emit(row.event, payload);
  } else {
    const error = waitFor(socket, 'error', () => true);
    socket.emit(row.event, payload);
    let e;
    try {
      e = await error;
    } catch (err) {
      throw new Error(`${label}: no error event: ${err.message}`);
    }
    assert.equal(e?.code, want, `${label}: expected ${want}, got ${JSON.stringify(e)}`);
  }
  if (confirmed) {
    try {
      await confirmed;
    } catch (err) {
      throw new Error(`${label}: accepted, but no ${row.confirm.event} on the ${row.confirm.on}: ${err.message}`);
    }
    assert.deepEqual(received(socket, 'error'), [], `${label}: no error event after a success`);
  }
}

test('authz matrix: every Socket.IO event × {anonymous, buyer, another seller, owner}', { timeout: scaled(60_000) }, () =>
  scenario(async (ctx) => {
    const world = await setUp(ctx);
    let cells = 0;
    const failures = [];
    const accepted = { 'stream:chat': 0, 'stream:reaction': 0 };
    for (const row of MATRIX) {
      for (const who of PRINCIPALS) {
        for (const withAck of [true, false]) {
          // Every cell runs and every mismatch is reported, not just the first.
          try {
            await runCell(ctx, world, row, who, withAck);
          } catch (err) {
            failures.push(err.message.split('\n')[0]);
          }
          cells += 1;
          if (row.expect[who] === OK && row.event in accepted) accepted[row.event] += 1;
        }
      }
    }
    assert.equal(cells, MATRIX.length * PRINCIPALS.length * 2);
    assert.deepEqual(failures, [], `${failures.length} of ${cells} cells disagree:\n${failures.join('\n')}`);

    // Refused means nothing was stored: the stream's figures count exactly the
    // accepted chat messages and reactions (all on the `live` stream).
    // Every cell ended on its answer; a round trip on the watcher brings whatever
    // was broadcast to it before.
    await roundTrip(world.watcher);
    const a = await ctx.analytics(world.owner.token, world.streams.live);
    assert.equal(a.engagement.chatMessages, accepted['stream:chat'], JSON.stringify(a.engagement));
    assert.equal(a.engagement.totalLikes, accepted['stream:reaction'], JSON.stringify(a.engagement));
    assert.equal(received(world.watcher, 'chat:message').length, accepted['stream:chat']);
    assert.equal(received(world.watcher, 'reaction:new').length, accepted['stream:reaction']);
  }));

// A token that names nobody is refused at connect, whatever the socket meant to do:
// garbage, and the owner's own token after logout.
test('authz matrix: a garbage or revoked token gets connect_error, never an anonymous socket', { timeout: scaled(30_000) }, () =>
  scenario(async (ctx) => {
    const { seller: owner } = await ctx.liveStream();
    const login = await ctx.request('POST', '/auth/login', {
      body: { username: owner.username, password: 'correct-horse-battery' },
    });
    await ctx.request('POST', '/auth/logout', { token: login.token, body: {} });
    const principals = { 'garbage token': `garbage-${randomUUID()}`, 'revoked token (owner, after logout)': login.token };
    for (const [who, token] of Object.entries(principals)) {
      const err = await ctx.connectError({ token });
      assert.match(err.message, /invalid token/, `${who}: ${err.message}`);
    }
    // The same owner's live token still connects (the refusal is about the token).
    const s = await ctx.connect({ token: owner.token });
    assert.ok(s.connected);
  }));
