// SIGTERM with everything live (docs/operations.md, "Restarts and crash recovery"):
// a publisher (ffmpeg), a WebSocket client, a long-polling client and a raw poll
// in flight. The server exits 0 within 5 s; every client sees the disconnect; the
// recording made so far is finalized at the next start-up, joined with what is
// recorded after it at /end, and plays for as long as was published.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { connect, join, scaled, startServer, waitUntil, within } from './harness.mjs';

const FPS = 30;
const GOP_FRAMES = 15;  // a keyframe, and a recording fragment, every half second
const FRAGMENT_SECONDS = GOP_FRAMES / FPS;
const IN_TRANSIT_SECONDS = scaled(500) / 1000;

function publish(url) {
  const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=${FPS}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(GOP_FRAMES), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url], { stdio: 'ignore' });
  child.on('error', () => {});
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  return child;
}

const durationOf = (file) => Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }));

test('SIGTERM with a publisher, WebSocket and long-polling clients live: exit 0 within 5 s, all see it, the recording plays', { timeout: scaled(90_000) }, async (t) => {
  let server = await startServer();
  const { dir } = server;
  const cleanup = [];
  let failure = null;
  try {
    const { seller, streamId, live } = await server.liveStream();
    const vod = path.join(dir, 'data', 'vod', `${streamId}.mp4`);
    const publisherStartedAt = Date.now();
    const ffmpeg = publish(`${live.rtmpUrl}/${live.streamKey}`);
    cleanup.push(() => ffmpeg.kill('SIGKILL'));

    const wsClient = await connect(server.url, { mode: 'websocket' });
    cleanup.push(() => wsClient.close());
    await join(wsClient, streamId);
    const pollingClient = io(server.url, { transports: ['polling'], reconnection: false, forceNew: true, timeout: scaled(5000) });
    cleanup.push(() => pollingClient.close());
    await within(new Promise((resolve) => pollingClient.once('connect', resolve)), scaled(8000), 'the polling client connects');
    assert.equal(pollingClient.io.engine.transport.name, 'polling');
    const disconnects = [wsClient, pollingClient].map((s) => new Promise((resolve) => s.once('disconnect', (reason) => resolve(reason))));

    // A raw Engine.IO session with its GET parked on the server (nothing to send).
    const base = `${server.url}/socket.io/?EIO=4&transport=polling`;
    const { sid } = JSON.parse((await (await fetch(base)).text()).slice(1));
    const parked = fetch(`${base}&sid=${sid}`, { signal: AbortSignal.timeout(scaled(20_000)) }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
      (err) => ({ error: String(err) }),
    );

    await waitUntil('ingest receiving', async () => (await server.request('GET', `/streams/${streamId}`)).ingest.state === 'receiving', scaled(10_000));
    const receivingAt = Date.now();
    await sleep(3000);  // three seconds of media to record (input, not synchronisation)

    const termAt = Date.now();
    const exit = await within(server.kill('SIGTERM'), scaled(5000), 'exit after SIGTERM');
    const exitedAfter = Date.now() - termAt;
    assert.deepEqual(exit, { code: 0, signal: null }, `exit ${JSON.stringify(exit)}`);
    assert.ok(exitedAfter <= scaled(5000), `exited ${exitedAfter} ms after SIGTERM`);

    // Every client learns of it.
    const reasons = await within(Promise.all(disconnects), scaled(5000), 'both Socket.IO clients see the disconnect');
    for (const reason of reasons) assert.match(reason, /transport close|io server disconnect|transport error/);
    const poll = await parked;
    assert.ok(poll.error || (poll.status === 200 && poll.body.split('\x1e').includes('1')),
      `the parked poll ends with a close packet or a closed connection: ${JSON.stringify(poll)}`);
    const publisherExit = await within(ffmpeg.exited, scaled(10_000), 'the publisher sees its connection closed');
    const publishedMs = termAt - receivingAt;
    const ranMs = publisherExit.at - publisherStartedAt;

    // The next start finalizes the recording before it listens.
    server = await startServer([], { dir });
    const recorded = durationOf(vod);
    t.diagnostic(`exit ${exitedAfter} ms after SIGTERM; ${recorded} s recorded, ${publishedMs} ms published, publisher ran ${ranMs} ms`);
    assert.ok(recorded >= publishedMs / 1000 - FRAGMENT_SECONDS - IN_TRANSIT_SECONDS,
      `${recorded} s recorded of ${publishedMs} ms published`);
    assert.ok(recorded <= ranMs / 1000 + 0.1, `${recorded} s recorded, the publisher ran ${ranMs} ms`);

    // /end announces it; it decodes without an error and lasts as long.
    const ended = await server.end(seller.token, streamId);
    assert.equal(ended.status, 'ended');
    await waitUntil('the VOD', async () => typeof (await server.request('GET', `/streams/${streamId}`)).vodUrl === 'string', scaled(20_000));
    const errors = execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', vod, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(errors, '');
    assert.ok(Math.abs(durationOf(vod) - recorded) <= 0.1, `VOD ${durationOf(vod)} s after /end, ${recorded} s before`);
  } catch (err) {
    failure = err;
  } finally {
    for (const c of cleanup) c();
    await server.stop({ keepDir: failure !== null });
  }
  if (failure) {
    failure.message += `\n--- server log (${dir}/server.log) ---\n${server.logTail(60)}`;
    throw failure;
  }
});
