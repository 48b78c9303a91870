// nginx in front: the repository's nginx-example.conf, run by Debian's real nginx
// before the real souk-live, with a self-signed certificate made here. ffmpeg
// publishes over rtmps:// (TLS ends at nginx's stream module, which passes the
// publisher's address in a PROXY header), HLS is fetched over https twice (the
// second from nginx's cache), and socket.io-clients chat over wss (WebSocket, and
// long-polling upgraded to it). souk-live must log the client's address, from
// X-Forwarded-For or the PROXY header, and only when nginx is the peer.
//
// The config is used as written, with these literal strings replaced (each must
// still be in the file, so a change there fails here rather than going untested):
// listen ports -> free ports on 127.0.0.1, the upstreams -> this souk-live, the
// certificate -> ours, /run, /var/log, /var/cache and /var/lib paths -> the
// temporary directory, and one line more in http {} and stream {}:
// `proxy_bind 127.0.0.2`, so nginx reaches souk-live from its own loopback address
// (trusted) while this test's direct requests come from 127.0.0.1 (not trusted).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

import { emitWithAck, freePort, join, startServer, waitFor, waitForWebSocket, scaled } from './harness.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NGINX_PROXY_ADDRESS = '127.0.0.2';

async function distinctFreePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** The example config with this test's ports and paths (see the header comment). */
function testConfig(text, t) {
  const replacements = [
    ['listen 80;', `listen 127.0.0.1:${t.httpPort};`],
    ['listen 443 ssl http2;', `listen 127.0.0.1:${t.httpsPort} ssl http2;`],
    ['listen 1936 ssl;', `listen 127.0.0.1:${t.rtmpsPort} ssl;`],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${t.soukHttpPort};`],
    ['server 127.0.0.1:1935;', `server 127.0.0.1:${t.soukRtmpPort};`],
    ['/etc/letsencrypt/live/live.example.com/fullchain.pem', t.cert],
    ['/etc/letsencrypt/live/live.example.com/privkey.pem', t.key],
    ['/run/nginx-souk.pid', path.join(t.dir, 'nginx.pid')],
    ['/var/log/nginx/', `${t.dir}/`],
    ['/var/cache/nginx/', `${t.dir}/cache/`],
    ['/var/lib/nginx/', `${t.dir}/lib/`],
    ['\nhttp {\n', `\nhttp {\n    proxy_bind ${NGINX_PROXY_ADDRESS};\n`],
    ['\nstream {\n', `\nstream {\n    proxy_bind ${NGINX_PROXY_ADDRESS};\n`],
  ];
  for (const [from, to] of replacements) {
    assert.ok(text.includes(from), `nginx-example.conf no longer contains ${JSON.stringify(from)}`);
    text = text.replaceAll(from, to);
  }
  return text;
}

function waitForPort(port, isDead, describe, timeoutMs = scaled(10_000)) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (isDead()) return reject(new Error(`nginx exited during start-up\n${describe()}`));
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) return reject(new Error(`nginx did not listen on ${port}\n${describe()}`));
        setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** nginx -p dir with the test config; resolves once it listens on every port. */
async function startNginx(t) {
  // Workers run as the file's `user` when nginx starts as root: they must reach
  // the cache and temp directories below dir (mkdtemp makes it 0700).
  await fsp.chmod(t.dir, 0o755);
  await fsp.mkdir(path.join(t.dir, 'cache'));
  await fsp.mkdir(path.join(t.dir, 'lib'));
  const conf = path.join(t.dir, 'nginx.conf');
  const example = await fsp.readFile(path.join(REPO, 'nginx-example.conf'), 'utf8');
  await fsp.writeFile(conf, testConfig(example, t));
  const errorLog = path.join(t.dir, 'souk-error.log');
  const child = spawn('nginx', ['-p', `${t.dir}/`, '-c', conf, '-e', errorLog, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  const exit = new Promise((resolve) => child.on('exit', () => resolve((exited = true))));
  child.on('error', (err) => {
    stderr += String(err);
    exited = true;
  });
  const describe = () => {
    let log = '';
    try {
      log = fs.readFileSync(errorLog, 'utf8');
    } catch {
      // not written yet
    }
    return `stderr: ${stderr}\nerror log: ${log}`;
  };
  for (const port of [t.httpPort, t.httpsPort, t.rtmpsPort]) {
    await waitForPort(port, () => exited, describe);
  }
  return {
    describe,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), scaled(5000));
      await exit;
      clearTimeout(timer);
    },
  };
}

/** One request with node's http(s) (no certificate check: ours is self-signed). */
function get(url, headers = {}) {
  const u = new URL(url);
  const client = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET', headers,
        rejectUnauthorized: false, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(scaled(10_000), () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

// A live encode, small so that two cores keep up with everything else.
function publish(url) {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-f', 'flv', url], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The access log lines souk-live wrote for one method and path (text format). */
function accessLines(log, method, p) {
  return log.split('\n').filter((line) => line.includes(` info http ${method} ${p} `));
}

test('nginx-example.conf in front: rtmps, cached https HLS, wss chat, client addresses', { timeout: scaled(90_000) }, async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'souk-edge-'));
  const [httpPort, httpsPort, rtmpsPort] = await distinctFreePorts(3);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });

  const base = `https://127.0.0.1:${httpsPort}`;
  const server = await startServer(['--trusted-proxies', NGINX_PROXY_ADDRESS,
    '--public-http-url', base, '--public-rtmp-url', `rtmps://127.0.0.1:${rtmpsPort}/live`]);
  let nginx = null;
  let ffmpeg = null;
  const sockets = [];
  let failed = true;
  try {
    nginx = await startNginx({ dir, httpPort, httpsPort, rtmpsPort, cert, key,
      soukHttpPort: server.port, soukRtmpPort: server.rtmpPort });

    // Plain http only redirects to https.
    const redirect = await get(`http://127.0.0.1:${httpPort}/healthz`);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, 'https://127.0.0.1/healthz');

    const { seller, streamId, live } = await server.liveStream();
    // The public URLs are the proxy's, as configured.
    assert.equal(live.rtmpUrl, `rtmps://127.0.0.1:${rtmpsPort}/live`);
    assert.equal(live.hlsUrl, `${base}/hls/${streamId}/index.m3u8`);

    // The API through nginx: a client's own X-Forwarded-For is overwritten there.
    const details = await get(`${base}/api/v1/streams/${streamId}`, { 'X-Forwarded-For': '203.0.113.7' });
    assert.equal(details.status, 200);
    assert.equal(JSON.parse(details.body).data.streamId, streamId);
    // Straight to souk-live from 127.0.0.1, not a trusted proxy: the header is ignored.
    const direct = await get(`${server.url}/api/v1/streams/${streamId}/products`, { 'X-Forwarded-For': '203.0.113.9' });
    assert.equal(direct.status, 200);

    ffmpeg = publish(`${live.rtmpUrl}/${live.streamKey}`);
    let ffmpegErr = '';
    ffmpeg.stderr.on('data', (d) => (ffmpegErr += d));

    // The playlist appears over https once a segment is complete.
    let playlist = null;
    for (const deadline = Date.now() + scaled(20_000); Date.now() < deadline;) {
      const res = await get(live.hlsUrl);
      if (res.status === 200 && res.body.toString().includes('.ts')) {
        playlist = res;
        break;
      }
      await sleep(100);  // polling interval
    }
    assert.ok(playlist, `no playlist with a segment over https; ffmpeg: ${ffmpegErr}; nginx: ${nginx.describe()}`);
    assert.equal(playlist.headers['content-type'], 'application/vnd.apple.mpegurl');

    // Playlists are cached for 1 s (nginx counts whole seconds, so a copy lives
    // under 2 s): one 2 s old is fetched again, and a request right after is a hit.
    await sleep(2100);  // the cache entry's age under test, not synchronisation
    const first = await get(live.hlsUrl);
    const second = await get(live.hlsUrl);
    assert.equal(first.status, 200);
    assert.match(first.headers['x-cache-status'], /^(MISS|EXPIRED)$/);
    assert.equal(second.headers['x-cache-status'], 'HIT');
    assert.equal(second.body.toString(), first.body.toString());
    // souk-live's own Cache-Control reaches the player: it must keep refetching.
    assert.equal(second.headers['cache-control'], 'no-cache');

    // A segment: a miss, then a hit with the same bytes, and ranges from the cache.
    const segment = first.body.toString().split('\n').find((l) => l.endsWith('.ts'));
    const segmentUrl = `${base}/hls/${streamId}/${segment}`;
    const s1 = await get(segmentUrl);
    const s2 = await get(segmentUrl);
    assert.equal(s1.status, 200);
    assert.equal(s1.headers['content-type'], 'video/mp2t');
    assert.equal(s1.headers['x-cache-status'], 'MISS');
    assert.equal(s2.headers['x-cache-status'], 'HIT');
    assert.ok(s1.body.length > 188 && s1.body[0] === 0x47, 'an MPEG-TS segment');
    assert.ok(s2.body.equals(s1.body));
    const range = await get(segmentUrl, { Range: 'bytes=188-375' });
    assert.equal(range.status, 206);
    assert.equal(range.headers['x-cache-status'], 'HIT');
    assert.ok(range.body.equals(s1.body.subarray(188, 376)));

    // Socket.IO over wss: one client long-polls first and upgrades, one starts on
    // WebSocket; both join the room and hear each other's chat.
    const buyer = await server.register('buyer');
    const options = { rejectUnauthorized: false, forceNew: true, reconnection: false, timeout: 5000 };
    const polling = io(base, { ...options, auth: { token: buyer.token } });
    const websocket = io(base, { ...options, auth: { token: seller.token }, transports: ['websocket'] });
    sockets.push(polling, websocket);
    for (const s of sockets) s.received = [];
    await Promise.all(sockets.map((s) => waitFor(s, 'connect', () => true, scaled(8000))));
    await waitForWebSocket(polling, scaled(8000));
    await join(polling, streamId);
    await join(websocket, streamId);
    const heard = Promise.all(sockets.map((s) =>
      waitFor(s, 'chat:message', (m) => m.message === 'Is the rug still available?')));
    const ack = await emitWithAck(polling, 'stream:chat', { stream_id: streamId, message: 'Is the rug still available?' });
    assert.equal(ack.ok, true);
    for (const m of await heard) assert.equal(m.userId, buyer.id);

    // VOD through the slice cache: after /end, ranges of the recording, the
    // second from nginx's cache, byte for byte what souk-live serves.
    const ended = await server.end(seller.token, streamId);
    assert.ok(ended.vodUrl.startsWith(`${base}/vod/`), ended.vodUrl);
    let vod = null;
    for (const deadline = Date.now() + scaled(15_000); !vod && Date.now() < deadline;) {
      const res = await get(ended.vodUrl, { Range: 'bytes=100-1123' });
      if (res.status === 206) vod = res;
      else await sleep(100);  // polling interval
    }
    assert.ok(vod, 'the VOD never came through nginx');
    const origin = await get(ended.vodUrl.replace(base, server.url));
    assert.equal(origin.status, 200);
    assert.equal(vod.headers['content-range'], `bytes 100-1123/${origin.body.length}`);
    assert.ok(vod.body.equals(origin.body.subarray(100, 1124)));
    const vodAgain = await get(ended.vodUrl, { Range: 'bytes=200-299' });
    assert.equal(vodAgain.status, 206);
    assert.equal(vodAgain.headers['x-cache-status'], 'HIT');
    assert.ok(vodAgain.body.equals(origin.body.subarray(200, 300)));

    // What souk-live saw. Through nginx: the client (nginx wrote 127.0.0.1 into
    // X-Forwarded-For; souk-live believed it because the peer was 127.0.0.2), no
    // port. Straight from 127.0.0.1: the peer with its port, the forged header ignored.
    const log = server.log();
    const viaNginx = accessLines(log, 'GET', `/api/v1/streams/${streamId}`);
    assert.equal(viaNginx.length, 1, log);
    assert.match(viaNginx[0], / remote=127\.0\.0\.1$/);
    const straight = accessLines(log, 'GET', `/api/v1/streams/${streamId}/products`);
    assert.equal(straight.length, 1);
    assert.match(straight[0], / remote=127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(log, /203\.0\.113\./);
    for (const line of accessLines(log, 'GET', `/hls/${streamId}/index.m3u8`)) {
      assert.match(line, / remote=127\.0\.0\.1$/);
    }
    const upgrades = log.split('\n').filter((l) => l.includes(' info http GET /socket.io/ 101 '));
    assert.equal(upgrades.length, 2);
    for (const line of upgrades) assert.match(line, / remote=127\.0\.0\.1$/);
    // RTMP: the publisher's address from nginx's PROXY header, not nginx's own.
    assert.match(log, /rtmp publish started stream_id=\S+ remote=127\.0\.0\.1:\d+/);
    assert.doesNotMatch(log, /remote=127\.0\.0\.2/);

    // The HLS origin was asked at most once per cached object: the two cache hits
    // above are not in souk-live's log.
    const segmentFetches = accessLines(log, 'GET', `/hls/${streamId}/${segment}`);
    assert.equal(segmentFetches.length, 1);
    failed = false;
  } finally {
    for (const s of sockets) s.close();
    ffmpeg?.kill('SIGKILL');
    await nginx?.stop();
    if (failed) console.error(`server log:\n${server.logTail(80)}\nnginx:\n${nginx?.describe() ?? ''}\nkept ${dir}`);
    await server.stop({ keepDir: failed });
    if (!failed) await fsp.rm(dir, { recursive: true, force: true });
  }
});
