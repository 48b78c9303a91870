// Harness of the realtime acceptance tests: starts the real souk-live binary on
// 127.0.0.1, drives its REST API with fetch for setup, and connects the real
// socket.io-client v4 to its Socket.IO endpoint (/socket.io/ on the HTTP port).
//
// The binary comes from $SOUK_LIVE_BINARY (CTest sets it to the built target).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';

export const MODES = ['default', 'websocket'];
export const REACTION_EMOJIS = ['❤️', '🔥', '👏', '😂', '😮', '💎'];
export const ISO_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Wall-clock bounds on a loaded machine: every bound a test puts on how long the
 * server may take is written as scaled(default ms), which grows with
 * SOUK_TEST_TIME_SCALE (>= 1, default 1; the same variable the C++ integration
 * tests read). Bounds that check a configured duration from below are not scaled.
 */
export const TIME_SCALE = (() => {
  const text = process.env.SOUK_TEST_TIME_SCALE;
  if (text === undefined || text === '') return 1;
  const value = Number(text);
  if (!(value >= 1 && value <= 100)) {
    throw new Error(`SOUK_TEST_TIME_SCALE=${text}: expected a number from 1 to 100`);
  }
  return value;
})();
export function scaled(ms) {
  return Math.round(ms * TIME_SCALE);
}

/** `promise`, or a rejection naming `what` once `ms` passes first. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

function binary() {
  const bin = process.env.SOUK_LIVE_BINARY;
  if (!bin) throw new Error('SOUK_LIVE_BINARY is not set (the path of the built souk-live binary)');
  if (!fs.existsSync(bin)) throw new Error(`SOUK_LIVE_BINARY=${bin} does not exist`);
  return bin;
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function twoFreePorts() {
  // Hold the first open while asking for the second, so they differ.
  const hold = net.createServer();
  await new Promise((resolve, reject) => {
    hold.on('error', reject);
    hold.listen(0, '127.0.0.1', resolve);
  });
  const p1 = hold.address().port;
  let p2;
  do p2 = await freePort(); while (p2 === p1);
  await new Promise((resolve) => hold.close(resolve));
  return [p1, p2];
}

function tail(text, lines = 60) {
  return text.split('\n').slice(-lines).join('\n');
}

/**
 * Starts `souk-live serve` on two free loopback ports with a fresh data directory
 * (or, with {dir}, on the data directory an earlier server used).
 * Resolves once GET /healthz answers 200 (fails after scaled(15 s) with the log's tail).
 *
 * The ports were free when picked, then closed and handed to the server: another
 * process (a parallel test, ctest -j) may take one in between. When the server
 * exits during start-up with "cannot listen" and "Address already in use", new
 * ports are picked and it is started again, up to START_ATTEMPTS times; any other
 * early exit fails at once.
 */
export async function startServer(extraArgs = [], { dir: reuseDir } = {}) {
  const bin = binary();
  // A given dir restarts a server on the data an earlier one left.
  const dir = reuseDir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'souk-realtime-')));
  const logPath = path.join(dir, 'server.log');
  const log = () => {
    try {
      return fs.readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  for (let attempt = 1; ; attempt += 1) {
    const [port, rtmpPort] = await twoFreePorts();
    const logFrom = log().length;  // this attempt's lines start here
    const started = await launch(bin, dir, logPath, log, port, rtmpPort, extraArgs);
    if (started.ok) return { ...started.ok, log, logTail: (lines) => tail(log(), lines) };
    const attemptLog = log().slice(logFrom);
    // The server logs "cannot listen" with "Address already in use" and exits 1
    // (builds before main's 05c152f aborted with "bind: Address already in use"):
    // the error text alone decides.
    const portTaken = /Address already in use/.test(attemptLog);
    if (!portTaken || attempt >= START_ATTEMPTS) {
      throw new Error(`${started.failure} (attempt ${attempt} of ${START_ATTEMPTS})\n${tail(log())}`);
    }
  }
}

const START_ATTEMPTS = 4;

/** One start-up on the given ports: {ok: server fields} or {failure: message}. */
async function launch(bin, dir, logPath, log, port, rtmpPort, extraArgs) {
  const logFd = fs.openSync(logPath, 'a');
  const args = [
    'serve',
    '--data-dir', path.join(dir, 'data'),
    '--http-listen', `127.0.0.1:${port}`,
    '--rtmp-listen', `127.0.0.1:${rtmpPort}`,
    '--log-level', 'debug',
    '--viewer-count-interval', '1',
    ...extraArgs,
  ];
  const child = spawn(bin, args, { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.on('error', (err) => {
      exited = { code: null, signal: null, error: err };
      resolve(exited);
    });
  });
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + scaled(START_TIMEOUT_MS);
  for (;;) {
    if (exited) return { failure: `souk-live exited during start-up (${JSON.stringify(exited)})` };
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exitPromise;
      return { failure: `souk-live did not answer GET /healthz within ${scaled(START_TIMEOUT_MS)} ms` };
    }
    await sleep(50);  // polling interval of the readiness check, not a wait for an event
  }

  let stopped = false;
  const server = {
    url,
    port,
    rtmpPort,
    dir,
    log,
    pid: child.pid,
    /** Sends `signal` and resolves to {code, signal} once the process has exited. */
    async kill(signal) {
      stopped = true;
      if (!exited) child.kill(signal);
      return exitPromise;
    },
    /** SIGTERM, then waits for the exit (SIGKILL after 10 s). Resolves to {code, signal}. */
    async stop({ keepDir = false } = {}) {
      if (!stopped) {
        stopped = true;
        if (!exited) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), scaled(STOP_TIMEOUT_MS));
        await exitPromise;
        clearTimeout(timer);
      }
      if (!keepDir) await fsp.rm(dir, { recursive: true, force: true });
      return exited;
    },
    ...restApi(url),
  };
  return { ok: server };
}

// ---------------------------------------------------------------------------
// REST helpers (base path /api/v1, JSON, Authorization: Bearer)

export class ApiError extends Error {
  constructor(method, p, status, body) {
    super(`${method} ${p} -> ${status} ${JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

export async function request(url, method, p, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${url}/api/v1${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(scaled(10_000)),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  if (res.status < 200 || res.status >= 300) throw new ApiError(method, p, res.status, json);
  return json?.data;
}

let userCounter = 0;

/** The REST helpers bound to one server's base URL. */
export function restApi(url) {
  const api = {
    request: (method, p, opts) => request(url, method, p, opts),

    /** POST /auth/register → {id, token, username, user}. */
    async register(role = 'buyer', extra = {}) {
      userCounter += 1;
      const username = `${role}_${userCounter}_${randomBytes(4).toString('hex')}`;
      const data = await api.request('POST', '/auth/register', {
        body: { username, password: 'correct-horse-battery', role, ...extra },
      });
      return { id: data.user.id, token: data.token, username: data.user.username, user: data.user };
    },

    /** POST /products → the product's id. */
    async createProduct(token, extra = {}) {
      const data = await api.request('POST', '/products', {
        token,
        body: { title: 'Handwoven rug', price_cents: 4999, currency: 'USD', ...extra },
      });
      return data.id;
    },

    /** POST /streams → streamId. Without product_ids, one new product is attached (go-live needs one). */
    async createStream(token, body = {}) {
      const full = { title: 'Realtime test stream', estimated_duration: 30, ...body };
      if (!('product_ids' in full)) full.product_ids = [await api.createProduct(token)];
      const data = await api.request('POST', '/streams', { token, body: full });
      return data.streamId;
    },

    /** POST /streams/{id}/go-live → data (rtmpUrl, streamKey, hlsUrl, notificationsSent, …). */
    goLive(token, id) {
      return api.request('POST', `/streams/${id}/go-live`, {
        token,
        body: { camera_ready: true, checklist_complete: true },
      });
    },

    /** POST /streams/{id}/end → data (status, durationSeconds, vodUrl, stats). */
    end(token, id) {
      return api.request('POST', `/streams/${id}/end`, { token, body: {} });
    },

    /** POST /streams/{id}/products/{pid}/tag. */
    tag(token, id, pid, x, y, ts) {
      return api.request('POST', `/streams/${id}/products/${pid}/tag`, {
        token,
        body: { product_id: pid, x, y, timestamp_seconds: ts },
      });
    },

    /** POST /users/{sellerId}/follow. */
    follow(token, sellerId) {
      return api.request('POST', `/users/${sellerId}/follow`, { token, body: {} });
    },

    /** GET /streams/{id}/analytics (owner). */
    analytics(token, id) {
      return api.request('GET', `/streams/${id}/analytics`, { token });
    },

    /** GET /streams/{id}/products. */
    streamProducts(id) {
      return api.request('GET', `/streams/${id}/products`);
    },

    /** A seller with a live stream (one product attached): {seller, streamId, productId, live}. */
    async liveStream(streamBody = {}) {
      const seller = await api.register('seller');
      const productId = await api.createProduct(seller.token);
      const streamId = await api.createStream(seller.token, { product_ids: [productId], ...streamBody });
      const live = await api.goLive(seller.token, streamId);
      return { seller, streamId, productId, live };
    },
  };
  return api;
}

// ---------------------------------------------------------------------------
// Socket.IO client helpers

function clientOptions({ token, websocketOnly, mode } = {}) {
  const wsOnly = websocketOnly ?? mode === 'websocket';
  return {
    auth: token ? { token } : undefined,
    transports: wsOnly ? ['websocket'] : undefined,
    reconnection: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
    forceNew: true,
    timeout: scaled(5000),
  };
}

/** Records every event a socket receives, in order: socket.received = [{event, args, at}]. */
function record(socket) {
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push({ event, args, at: Date.now() }));
  // Transports the engine used, in order (to tell polling-then-websocket from websocket-only).
  socket.transportsSeen = [];
  const noteEngine = () => {
    const engine = socket.io.engine;
    if (!engine || engine.__soukNoted) return;
    engine.__soukNoted = true;
    if (engine.transport) socket.transportsSeen.push(engine.transport.name);
    engine.on('upgrade', (transport) => socket.transportsSeen.push(transport.name));
  };
  socket.io.on('open', noteEngine);
  return socket;
}

/**
 * Connects a socket.io-client socket; resolves on 'connect', rejects on
 * 'connect_error' (closing the socket) or after timeoutMs.
 */
export function connect(url, opts = {}, timeoutMs = scaled(8000)) {
  const socket = record(io(url, clientOptions(opts)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.close();
      reject(new Error(`socket.io connect to ${url} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      socket.close();
      const e = new Error(`connect_error: ${err?.message}`);
      e.cause = err;
      reject(e);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** Connects expecting a refusal: resolves with the connect_error's Error; rejects if it connects. */
export function connectError(url, opts = {}, timeoutMs = scaled(8000)) {
  const socket = io(url, clientOptions(opts));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`neither connect nor connect_error within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => {
      clearTimeout(timer);
      socket.close();
      reject(new Error('connected, but a connect_error was expected'));
    });
    socket.on('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      resolve(err);
    });
  });
}

/**
 * The next `event` on `socket` (received after this call) whose payload satisfies
 * `predicate`; rejects after timeoutMs naming what did arrive.
 */
export function waitFor(socket, event, predicate = () => true, timeoutMs = scaled(5000)) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const handler = (...args) => {
      let ok = false;
      try {
        ok = predicate(...args);
      } catch {
        ok = false;
      }
      if (ok) {
        cleanup();
        resolve(args[0]);
      } else {
        seen.push(args[0]);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(
          `no matching '${event}' within ${timeoutMs} ms on socket ${socket.id ?? '(not connected)'}; ` +
            `non-matching ones: ${JSON.stringify(seen).slice(0, 800)}`,
        ),
      );
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off(event, handler);
    };
    socket.on(event, handler);
  });
}

/** Emits with an acknowledgement (socket.timeout(ms).emitWithAck); resolves to the ack. */
export async function emitWithAck(socket, event, payload, timeoutMs = scaled(5000)) {
  try {
    return await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch (err) {
    const engine = socket.io.engine;
    throw new Error(
      `no ack for '${event}' within ${timeoutMs} ms (${err?.message}; socket ${socket.id ?? '-'}, ` +
        `connected ${socket.connected}, transport ${engine?.transport?.name}, upgrading ${engine?.upgrading}, ` +
        `packets waiting in the engine ${engine?.writeBuffer?.length})`,
    );
  }
}

/** Events of one name a socket has received so far (their first arguments). */
export function received(socket, event) {
  return socket.received.filter((r) => r.event === event).map((r) => r.args[0]);
}

/** Waits until the engine's transport is WebSocket (the upgrade from polling). */
export function waitForWebSocket(socket, timeoutMs = scaled(5000)) {
  const engine = socket.io.engine;
  if (engine?.transport?.name === 'websocket') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      engine.off('upgrade', onUpgrade);
      reject(
        new Error(
          `no upgrade to websocket within ${timeoutMs} ms (transport: ${engine?.transport?.name}; ` +
            `seen: ${socket.transportsSeen.join(',')})`,
        ),
      );
    }, timeoutMs);
    const onUpgrade = (transport) => {
      if (transport.name !== 'websocket') return;
      clearTimeout(timer);
      engine.off('upgrade', onUpgrade);
      resolve();
    };
    engine.on('upgrade', onUpgrade);
  });
}

/** join with ack; resolves with {ack, joined} where joined is the stream:joined payload. */
export async function join(socket, streamId, timeoutMs = scaled(5000)) {
  const joined = waitFor(socket, 'stream:joined', (p) => p?.streamId === streamId, timeoutMs);
  joined.catch(() => {});
  const ack = await emitWithAck(socket, 'stream:join', { stream_id: streamId }, timeoutMs);
  if (!ack?.ok) throw new Error(`stream:join refused: ${JSON.stringify(ack)}`);
  return { ack, joined: await joined };
}

// ---------------------------------------------------------------------------
// One scenario = one server + the sockets it opened, all closed at the end.

/**
 * Runs fn(ctx) against a fresh server; closes every socket and stops the server
 * afterwards. On failure the server log's tail is appended to the error, and the
 * temporary directory is kept (its path is in the message).
 *
 * ctx: {server, url, api..., connect(opts), connectError(opts, path), track(closable)}
 */
export async function scenario(fn, { serverArgs = [] } = {}) {
  const server = await startServer(serverArgs);
  const sockets = [];
  const closables = [];
  const ctx = {
    server,
    url: server.url,
    async connect(opts = {}) {
      const s = await connect(opts.path ? server.url + opts.path : server.url, opts);
      sockets.push(s);
      return s;
    },
    connectError(opts = {}) {
      return connectError(opts.path ? server.url + opts.path : server.url, opts);
    },
    track(closable) {
      closables.push(closable);
      return closable;
    },
  };
  for (const [k, v] of Object.entries(server)) if (typeof v === 'function' && !(k in ctx)) ctx[k] = v;
  let failure = null;
  try {
    await fn(ctx);
  } catch (err) {
    failure = err;
  }
  for (const s of sockets) {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
  for (const c of closables) {
    try {
      c.terminate ? c.terminate() : c.close();
    } catch {
      // already closed
    }
  }
  const exit = await server.stop({ keepDir: true });
  const unclean = exit && exit.code !== 0 && exit.signal !== 'SIGTERM';
  if (!failure && unclean) {
    failure = new Error(`souk-live did not exit cleanly on SIGTERM: ${JSON.stringify(exit)}`);
  }
  if (failure) {
    const note = `\n--- server log (${server.dir}/server.log), last lines ---\n${tail(server.log(), 60)}`;
    if (failure instanceof Error) {
      failure.message += note;
      throw failure;
    }
    throw new Error(String(failure) + note);
  }
  await fsp.rm(server.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------
// Waiting without fixed sleeps

/**
 * Polls fn() every 50 ms until it returns a truthy value (resolved with it);
 * rejects naming `what` after timeoutMs.
 */
export async function waitUntil(what, fn, timeoutMs = scaled(10_000)) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);  // polling interval
  }
}

const NO_SUCH_STREAM = '00000000-0000-4000-8000-000000000000';

/**
 * One acknowledged round trip on `socket` (a stream:join of a stream that does
 * not exist, refused with stream_not_found). The server sends a socket's packets
 * in order and broadcasts an event before it acknowledges it, so once this
 * returns, every packet queued for `socket` by an event acknowledged earlier (on
 * any socket) has arrived: a check that something was NOT received needs no
 * time window after it. (But for a reaction in a busy room: it may wait for the
 * end of its room's --reaction-batch-ms interval, after its ack.)
 */
export async function roundTrip(socket) {
  const ack = await emitWithAck(socket, 'stream:join', { stream_id: NO_SUCH_STREAM });
  if (ack?.ok !== false || ack.error?.code !== 'stream_not_found') {
    throw new Error(`round trip: expected stream_not_found, got ${JSON.stringify(ack)}`);
  }
}
