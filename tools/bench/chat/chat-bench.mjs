// Chat fan-out benchmark runner: Souk Live vs a Node socket.io 4 server (ref-server.mjs)
// under the same load. For each viewer count and each server in turn (souk, then ref),
// it starts the server on 127.0.0.1, connects the viewers into one room, measures the
// server's RSS growth per idle viewer, then for each rate sends chat for --duration
// seconds and records delivered msgs/s, latency percentiles, loss and server CPU.
//
//   node chat-bench.mjs --souk build/release/app/souk-live [--viewers 1000,5000]
//        [--rates 5,10,20,30,40,50,60,70,100,150,200,250,300,400,500] [--duration 10] [--out results.json]
//
// `node chat-bench.mjs --help` lists every option.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChatLoad } from './chat-load.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHAT_PER_MINUTE = 10; // Souk Live's limit per user per rolling minute (docs/api.md)
const RATE_LIMIT_REST_MS = 65_000; // a sender user rests this long before it is used again

const OPTIONS = {
  souk: { value: '', help: 'path of the souk-live binary (required when souk is among --servers)' },
  servers: { value: 'souk,ref', help: 'servers to measure, in this order, alternating per viewer count' },
  viewers: { value: '1000,5000', help: 'viewer counts (one room)' },
  rates: { value: '5,10,20,30,40,50,60,70,100,150,200,250,300,400,500', help: 'total chat messages per second sent into the room' },
  duration: { value: '10', help: 'seconds of sending per rate' },
  rounds: { value: '1', help: 'repeat the whole souk/ref alternation this many times' },
  workers: { value: '2', help: 'viewer worker processes' },
  ramp: { value: '500', help: 'new connections per second while connecting' },
  'join-batch': { value: '250', help: 'viewers connected per batch; the next batch waits until the server has gone quiet' },
  client: { value: 'raw', help: "viewer client: 'raw' (hand-rolled RFC 6455 framer) or 'ws' (the ws library)" },
  join: { value: 'yes', help: "'no' (diagnostics): viewers connect but never join the room" },
  'p99-target': { value: '100', help: 'p99 latency bound in ms for "max delivered msgs/s"' },
  'p99-sustained': { value: '1000', help: 'a looser p99 bound in ms: the throughput a server sustains without a backlog' },
  report: { value: '', help: 'print the tables of an earlier --out JSON file and exit (no benchmark)' },
  'early-stop': { value: 'yes', help: "'no' keeps running higher rates after a rate failed badly" },
  'souk-args': { value: '', help: 'extra souk-live serve arguments, space-separated (e.g. "--log-level info")' },
  'souk-env': { value: '', help: 'extra environment for souk-live, space-separated NAME=VALUE (for experiments, e.g. LD_PRELOAD=...)' },
  'max-other-cpu': { value: '25', help: 'before each rate, wait until processes outside the benchmark use at most this % of one CPU' },
  'quiet-wait': { value: '120', help: 'longest wait, in s, for that (then it runs anyway; the table shows other CPU %)' },
  'server-cpus': { value: '', help: 'taskset CPU list for the server (e.g. 1); empty: no pinning' },
  'client-cpus': { value: '', help: 'taskset CPU list for the load processes (e.g. 0); empty: no pinning' },
  out: { value: 'chat-results.json', help: 'JSON results file' },
  'keep-dirs': { value: 'no', help: "'yes' keeps the temporary data directories and logs" },
};

function parseArgs(argv) {
  const opts = Object.fromEntries(Object.entries(OPTIONS).map(([k, v]) => [k, v.value]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log('usage: node chat-bench.mjs --souk BINARY [options]\n');
      for (const [k, v] of Object.entries(OPTIONS)) console.log(`  --${k.padEnd(12)} ${v.help} (default: ${v.value || 'none'})`);
      process.exit(0);
    }
    const key = a.replace(/^--/, '').split('=')[0];
    if (!(key in OPTIONS)) throw new Error(`unknown option ${a} (see --help)`);
    opts[key] = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
  }
  const list = (s) => s.split(',').filter(Boolean).map(Number);
  const cfg = {
    souk: opts.souk ? path.resolve(opts.souk) : '',
    servers: opts.servers.split(',').filter(Boolean),
    viewers: list(opts.viewers),
    rates: list(opts.rates),
    duration: Number(opts.duration),
    rounds: Number(opts.rounds),
    workers: Number(opts.workers),
    ramp: Number(opts.ramp),
    joinBatch: Number(opts['join-batch']),
    client: opts.client,
    join: opts.join !== 'no',
    p99TargetMs: Number(opts['p99-target']),
    p99SustainedMs: Number(opts['p99-sustained']),
    report: opts.report,
    earlyStop: opts['early-stop'] !== 'no',
    soukArgs: opts['souk-args'].split(' ').filter(Boolean),
    soukEnv: Object.fromEntries(opts['souk-env'].split(' ').filter(Boolean).map((kv) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)])),
    maxOtherCpu: Number(opts['max-other-cpu']),
    quietWait: Number(opts['quiet-wait']),
    serverCpus: opts['server-cpus'],
    clientCpus: opts['client-cpus'],
    out: path.resolve(opts.out),
    keepDirs: opts['keep-dirs'] === 'yes',
  };
  if (!cfg.report && cfg.servers.includes('souk') && !(cfg.souk && fs.existsSync(cfg.souk))) {
    throw new Error(`--souk: the souk-live binary is required (got '${opts.souk}')`);
  }
  return cfg;
}

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---------------------------------------------------------------------------------
// /proc

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads), in seconds. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
  } catch {
    return 0;
  }
}

function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Busy CPU seconds of the whole machine (all cores). */
function machineBusySeconds() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - f[3] - f[4]) / CLK_TCK; // minus idle and iowait
}

class CpuWindow {
  constructor(serverPid, clientPids) {
    this.serverPid = serverPid;
    this.clientPids = clientPids;
    this.t0 = performance.now();
    this.s0 = cpuSeconds(serverPid);
    this.c0 = clientPids.reduce((a, p) => a + cpuSeconds(p), 0);
    this.m0 = machineBusySeconds();
  }
  read() {
    const wall = (performance.now() - this.t0) / 1000;
    const server = cpuSeconds(this.serverPid) - this.s0;
    const client = this.clientPids.reduce((a, p) => a + cpuSeconds(p), 0) - this.c0;
    const machine = machineBusySeconds() - this.m0;
    return { wall, server, client, other: Math.max(0, machine - server - client) };
  }
}

// ---------------------------------------------------------------------------------
// Servers

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function twoFreePorts() {
  const hold = net.createServer();
  await new Promise((resolve) => hold.listen(0, '127.0.0.1', resolve));
  const p1 = hold.address().port;
  let p2;
  do p2 = await freePort(); while (p2 === p1);
  await new Promise((resolve) => hold.close(resolve));
  return [p1, p2];
}

function pinned(cpus, cmd, args) {
  return cpus ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
}

// Servers still running when this process exits (an error, a signal) are killed.
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

async function startProcess(name, cmd, args, logPath, ready, env = {}) {
  const fd = fs.openSync(logPath, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  fs.closeSync(fd);
  children.add(child);
  let exited = null;
  const exit = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve((exited = { code, signal }));
    }),
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`${name} exited at start-up (${JSON.stringify(exited)}); see ${logPath}`);
    if (await ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not become ready within 20 s; see ${logPath}`);
    }
    await sleep(50);
  }
  return {
    pid: child.pid,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

async function httpOk(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await res.arrayBuffer();
  return res.status === 200;
}

async function startSouk(cfg, dataDir, logPath) {
  const [port, rtmpPort] = await twoFreePorts();
  const args = [
    'serve',
    '--data-dir', dataDir,
    '--http-listen', `127.0.0.1:${port}`,
    '--rtmp-listen', `127.0.0.1:${rtmpPort}`,
    ...(cfg.soukArgs.includes('--log-level') ? [] : ['--log-level', 'warn']),
    // The stream never gets a publisher: keep it live for the whole benchmark.
    '--idle-timeout', String(7 * 86400),
    // Every viewer comes from 127.0.0.1: lift the per-address bounds.
    '--realtime-max-per-address', '1000000',
    '--http-max-per-address', '1000000',
    '--joins-per-minute', '10000',
    ...cfg.soukArgs,
  ];
  const [cmd, argv] = pinned(cfg.serverCpus, cfg.souk, args);
  const proc = await startProcess('souk-live', cmd, argv, logPath, () => httpOk(`http://127.0.0.1:${port}/healthz`), cfg.soukEnv);
  return { ...proc, port, url: `http://127.0.0.1:${port}` };
}

async function startRef(cfg, logPath) {
  const port = await freePort();
  const [cmd, argv] = pinned(cfg.serverCpus, process.execPath, [path.join(HERE, 'ref-server.mjs'), String(port)]);
  const proc = await startProcess('ref-server', cmd, argv, logPath, () =>
    httpOk(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`),
  );
  return { ...proc, port };
}

// ---------------------------------------------------------------------------------
// Souk Live set-up: users, a seller and a live stream, made once in a template data
// directory that every souk run copies (so registration, argon2id at ~80 ms a user,
// happens once per benchmark).

async function api(url, method, p, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${url}/api/v1${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const json = await res.json().catch(() => null);
  if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${p} -> ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

const register = (url, role, i) =>
  api(url, 'POST', '/auth/register', {
    body: { username: `bench_${role}_${i}_${Math.random().toString(36).slice(2, 8)}`, password: 'correct-horse-battery', role },
  }).then((d) => d.token);

async function prepareSoukTemplate(cfg, dir, users) {
  const dataDir = path.join(dir, 'data');
  await fsp.mkdir(dir, { recursive: true });
  const souk = await startSouk(cfg, dataDir, path.join(dir, 'setup.log'));
  try {
    const seller = await register(souk.url, 'seller', 0);
    const product = await api(souk.url, 'POST', '/products', {
      token: seller,
      body: { title: 'Handwoven rug', price_cents: 4999, currency: 'USD' },
    });
    const streamId = (
      await api(souk.url, 'POST', '/streams', {
        token: seller,
        body: { title: 'Chat fan-out bench', estimated_duration: 60, product_ids: [product.id] },
      })
    ).streamId;
    await api(souk.url, 'POST', `/streams/${streamId}/go-live`, {
      token: seller,
      body: { camera_ready: true, checklist_complete: true },
    });
    const tokens = new Array(users);
    let next = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < users) {
          const i = next++;
          tokens[i] = await register(souk.url, 'buyer', i);
          if (i % 100 === 99) log(`  registered ${i + 1}/${users} sender users`);
        }
      }),
    );
    log(`  registered ${users} sender users in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { dataDir, streamId, tokens };
  } finally {
    await souk.stop();
  }
}

// ---------------------------------------------------------------------------------
// Sender users: each sends at most 10 messages in a window, then rests 65 s, so none
// ever meets Souk Live's 10-a-minute limit.

class SenderPool {
  constructor(size) {
    this.freeAt = new Array(size).fill(0);
  }
  static needed(rate, duration) {
    return Math.ceil((rate * duration) / CHAT_PER_MINUTE);
  }
  /** Indices of n users free now; waits for them if needed. */
  async take(n) {
    if (n > this.freeAt.length) throw new Error(`need ${n} sender users, have ${this.freeAt.length}`);
    for (;;) {
      const now = Date.now();
      const free = [];
      for (let i = 0; i < this.freeAt.length && free.length < n; i++) if (this.freeAt[i] <= now) free.push(i);
      if (free.length >= n) return free;
      const soonest = [...this.freeAt].sort((a, b) => a - b)[n - 1];
      log(`  waiting ${((soonest - now) / 1000).toFixed(0)} s for sender users to leave the chat rate limit`);
      await sleep(Math.max(100, soonest - now));
    }
  }
  rest(users) {
    const until = Date.now() + RATE_LIMIT_REST_MS;
    for (const i of users) this.freeAt[i] = until;
  }
}

// ---------------------------------------------------------------------------------
// One server at one viewer count

async function waitQuiet(pid, { maxMs = 20_000, threshold = 0.05 } = {}) {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const c0 = cpuSeconds(pid);
    await sleep(1000);
    if (cpuSeconds(pid) - c0 < threshold || Date.now() > deadline) return;
  }
}

// Waits until processes outside the benchmark leave the CPUs alone (a shared machine).
async function waitMachineQuiet(cfg, serverPid, clientPids) {
  const deadline = Date.now() + cfg.quietWait * 1000;
  let lastLog = 0;
  for (;;) {
    const cpu = new CpuWindow(serverPid, clientPids);
    await sleep(1000);
    const r = cpu.read();
    const otherPct = (100 * r.other) / r.wall;
    if (otherPct <= cfg.maxOtherCpu || Date.now() > deadline) return otherPct;
    if (Date.now() - lastLog > 15_000) {
      log(`  other processes use ${otherPct.toFixed(0)}% CPU; waiting (up to ${cfg.quietWait} s) for ≤ ${cfg.maxOtherCpu}%`);
      lastLog = Date.now();
    }
  }
}

function passes(row, cfg, viewers) {
  return row.viewers === viewers && row.p99Ms !== null && row.p99Ms <= cfg.p99TargetMs && row.lost === 0 && row.viewersLost === 0 && row.refused === 0;
}

async function measure(cfg, server, viewers, ctx, round) {
  const runDir = await fsp.mkdtemp(path.join(ctx.dir, `${server}-${viewers}-`));
  const logPath = path.join(runDir, 'server.log');
  let srv;
  let streamId;
  let tokens;
  if (server === 'souk') {
    await fsp.cp(ctx.souk.dataDir, path.join(runDir, 'data'), { recursive: true });
    srv = await startSouk(cfg, path.join(runDir, 'data'), logPath);
    streamId = ctx.souk.streamId;
    tokens = ctx.souk.tokens;
  } else {
    srv = await startRef(cfg, logPath);
    streamId = 'bench-stream';
    tokens = ctx.souk?.tokens.map((_, i) => `reftoken${String(i).padStart(12, '0')}`) ??
      Array.from({ length: ctx.poolSize }, (_, i) => `reftoken${String(i).padStart(12, '0')}`);
  }
  log(`${server} (pid ${srv.pid}, port ${srv.port}): ${viewers} viewers, round ${round}`);
  const result = { server, viewers, round, rows: [], memory: null, errors: [] };
  const load = new ChatLoad({
    port: srv.port,
    streamId,
    viewers,
    workers: cfg.workers,
    rampPerSec: cfg.ramp,
    client: cfg.client,
    join: cfg.join,
  });
  try {
    await waitQuiet(srv.pid, { maxMs: 5000 });
    await waitMachineQuiet(cfg, srv.pid, []);
    const rss0 = statusKb(srv.pid, 'VmRSS');
    const tConnect = performance.now();
    const st = await load.connectViewers({ batch: cfg.joinBatch, log });
    const connectSeconds = (performance.now() - tConnect) / 1000;
    if (cfg.clientCpus) for (const pid of load.pids()) execFileSync('taskset', ['-apc', cfg.clientCpus, String(pid)]);
    log(`  ${st.joined}/${viewers} viewers joined in ${connectSeconds.toFixed(1)} s (failed ${st.failed}, retries ${st.retries}); errors ${JSON.stringify(st.errors)}`);
    // Idle RSS: once the server has finished the joins' work.
    await waitQuiet(srv.pid);
    const rss1 = statusKb(srv.pid, 'VmRSS');
    const settled = await load.viewerStatus();
    const joined = settled.alive;
    if (settled.closedAfterJoin) {
      log(`  the server closed ${settled.closedAfterJoin} viewers after they joined`);
      result.errors.push(`the server closed ${settled.closedAfterJoin} of ${viewers} viewers while the room filled (${joined} left)`);
    }
    result.memory = {
      rssBeforeKb: rss0,
      rssIdleKb: rss1,
      joined,
      closedAfterJoin: settled.closedAfterJoin,
      kbPerIdleViewer: joined ? (rss1 - rss0) / joined : null,
      connectSeconds,
      failed: st.failed,
      errors: st.errors,
    };
    log(`  RSS ${rss0} kB -> ${rss1} kB: ${result.memory.kbPerIdleViewer?.toFixed(2)} kB per idle viewer`);
    if (st.joined < viewers) result.errors.push(`only ${st.joined}/${viewers} viewers joined`);

    const sst = await load.connectSenders(tokens);
    if (cfg.clientCpus) for (const pid of load.pids()) execFileSync('taskset', ['-apc', cfg.clientCpus, String(pid)]);
    log(`  ${sst.connected}/${tokens.length} sender sockets connected`);
    await waitQuiet(srv.pid, { maxMs: 5000 });

    let stopped = null;
    for (const rate of cfg.rates) {
      if (stopped) {
        result.rows.push({ rate, skipped: stopped });
        continue;
      }
      const users = await ctx.pool.take(SenderPool.needed(rate, cfg.duration));
      await waitMachineQuiet(cfg, srv.pid, load.pids());
      const w = ++ctx.window;
      let sendCpu = null;
      const cpu = new CpuWindow(srv.pid, load.pids());
      const row = await load.runWindow(
        { w, rate, duration: cfg.duration, users },
        { onSendDone: () => (sendCpu = cpu.read()) },
      );
      const all = cpu.read();
      ctx.pool.rest(users);
      Object.assign(row, {
        serverCpuPct: (100 * sendCpu.server) / sendCpu.wall,
        clientCpuPct: (100 * sendCpu.client) / sendCpu.wall,
        otherCpuPct: (100 * sendCpu.other) / sendCpu.wall,
        serverCpuSeconds: all.server,
        serverCpuUsPerDelivery: row.received ? (1e6 * all.server) / row.received : null,
        drainSeconds: all.wall - sendCpu.wall,
        rssKb: statusKb(srv.pid, 'VmRSS'),
      });
      row.pass = passes(row, cfg, viewers);
      result.rows.push(row);
      log(
        `  rate ${rate}/s: delivered ${Math.round(row.deliveredPerSec)}/s, p50 ${fmt(row.p50Ms)} p99 ${fmt(row.p99Ms)} max ${fmt(row.maxMs)} ms, ` +
          `lost ${row.lost}/${row.expected}, refused ${row.refused}, viewers lost ${row.viewersLost}, ` +
          `server CPU ${row.serverCpuPct.toFixed(0)}%, client ${row.clientCpuPct.toFixed(0)}%, other ${row.otherCpuPct.toFixed(0)}%` +
          (row.pass ? '' : '  [FAIL]'),
      );
      if (row.viewersLost > 0) stopped = `the server disconnected ${row.viewersLost} viewers at ${rate}/s`;
      else if (cfg.earlyStop && (row.lost > 0.01 * row.expected || (row.p99Ms ?? Infinity) > 10 * cfg.p99TargetMs)) {
        stopped = `overloaded at ${rate}/s`;
      }
      await sleep(1000);
    }
    result.peakRssKb = statusKb(srv.pid, 'VmHWM');
  } catch (err) {
    result.errors.push(String(err?.stack ?? err));
    log(`  error: ${err?.stack ?? err}`);
  } finally {
    await load.stop();
    await srv.stop();
    if (!cfg.keepDirs) await fsp.rm(runDir, { recursive: true, force: true });
  }
  return result;
}

// ---------------------------------------------------------------------------------
// Report

const fmt = (v, d = 1) => (v === null || v === undefined ? '-' : Number(v).toFixed(d));

function summarize(cfg, results) {
  // Per server and viewer count. Throughput and CPU: the best round (other processes on
  // the machine can only make a figure worse); memory: the median round. "Best" within a
  // round is the highest delivered/s among the rates that meet the bound with no loss,
  // nothing refused and the whole room connected.
  const median = (xs) => {
    const s = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
    return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
  };
  const ratio = (a, b) => (a === null || b === null ? null : b ? a / b : a ? Infinity : null);
  const out = [];
  for (const viewers of cfg.viewers) {
    const per = {};
    for (const server of cfg.servers) {
      const runs = results.filter((r) => r.server === server && r.viewers === viewers);
      const best = (boundMs) =>
        runs.map((r) => {
          const ok = r.rows.filter((row) => !row.skipped && passes(row, { ...cfg, p99TargetMs: boundMs }, viewers));
          return ok.length ? ok.reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a)) : null;
        });
      const top = (rows) => rows.reduce((a, b) => (b && (!a || b.deliveredPerSec > a.deliveredPerSec) ? b : a), null);
      const target = top(best(cfg.p99TargetMs));
      const sustained = top(best(cfg.p99SustainedMs));
      // Server CPU per delivery over the rates the server kept up with (sustained bound).
      const cpu = runs.map((r) =>
        median(r.rows.filter((row) => !row.skipped && passes(row, { ...cfg, p99TargetMs: cfg.p99SustainedMs }, viewers)).map((row) => row.serverCpuUsPerDelivery)),
      );
      const cpuBest = cpu.filter((x) => x !== null);
      per[server] = {
        maxDeliveredPerSec: runs.length ? (target?.deliveredPerSec ?? 0) : null,
        atRate: target?.rate ?? null,
        sustainedDeliveredPerSec: runs.length ? (sustained?.deliveredPerSec ?? 0) : null,
        sustainedAtRate: sustained?.rate ?? null,
        cpuUsPerDelivery: cpuBest.length ? Math.min(...cpuBest) : null,
        kbPerIdleViewer: median(runs.map((r) => (r.memory?.closedAfterJoin ? null : r.memory?.kbPerIdleViewer))),
      };
    }
    const s = per.souk;
    const r = per.ref;
    out.push({
      viewers,
      ...per,
      // Infinity: the reference met the bound at no rate and Souk Live did.
      throughputRatio: s && r ? ratio(s.maxDeliveredPerSec, r.maxDeliveredPerSec) : null,
      sustainedRatio: s && r ? ratio(s.sustainedDeliveredPerSec, r.sustainedDeliveredPerSec) : null,
      cpuEfficiencyRatio: s && r && s.cpuUsPerDelivery ? ratio(r.cpuUsPerDelivery, s.cpuUsPerDelivery) : null,
      memoryRatio: s && r && r.kbPerIdleViewer && s.kbPerIdleViewer !== null ? s.kbPerIdleViewer / r.kbPerIdleViewer : null,
    });
  }
  return out;
}

function markdown(cfg, results, summary) {
  const lines = [];
  lines.push(
    `Chat fan-out: one room, ${cfg.duration} s per rate, p99 target ${cfg.p99TargetMs} ms, client '${cfg.client}' over ${cfg.workers} worker processes, ${os.cpus().length} CPUs${cfg.serverCpus ? `, server on CPUs ${cfg.serverCpus}` : ''}${cfg.clientCpus ? `, client on CPUs ${cfg.clientCpus}` : ''}.`,
    '',
    '| server | viewers | rate msg/s | delivered/s | p50 ms | p99 ms | max ms | loss | server CPU % | CPU µs/delivery | client CPU % | other CPU % | KB per idle viewer |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    const kb = fmt(r.memory?.kbPerIdleViewer, 2);
    const name = cfg.rounds > 1 ? `${r.server} #${r.round}` : r.server;
    if (!r.rows.length) lines.push(`| ${name} | ${r.viewers} | - | - | - | - | - | - | - | - | - | - | ${kb} |`);
    for (const row of r.rows) {
      if (row.skipped) {
        lines.push(`| ${name} | ${r.viewers} | ${row.rate} | skipped: ${row.skipped} | | | | | | | | | ${kb} |`);
        continue;
      }
      const room = row.viewers === r.viewers ? `${r.viewers}` : `${r.viewers} (${row.viewers} in room)`;
      const loss = row.lost ? `${row.lost} (${((100 * row.lost) / row.expected).toFixed(2)}%)` : '0';
      lines.push(
        `| ${name} | ${room} | ${row.rate} | ${Math.round(row.deliveredPerSec)} | ${fmt(row.p50Ms)} | ${fmt(row.p99Ms)} | ${fmt(row.maxMs)} | ${loss}${row.viewersLost ? `, ${row.viewersLost} viewers dropped` : ''}${row.refused ? `, ${row.refused} refused` : ''} | ${fmt(row.serverCpuPct, 0)} | ${fmt(row.serverCpuUsPerDelivery, 2)} | ${fmt(row.clientCpuPct, 0)} | ${fmt(row.otherCpuPct, 0)} | ${kb} |${row.pass ? '' : ' ✗'}`,
      );
    }
  }
  for (const r of results) for (const e of r.errors) lines.push('', `- ${r.server}, ${r.viewers} viewers: ${e.split('\n')[0]}`);
  lines.push('', `Best delivered msgs/s (rate) with no loss, at p99 ≤ ${cfg.p99TargetMs} ms (the target) and at p99 ≤ ${cfg.p99SustainedMs} ms (sustained); server CPU µs per delivery (median over the sustained rates); best of ${cfg.rounds} round(s) for these, the median round for memory:`, '');
  lines.push(`| viewers | souk @${cfg.p99TargetMs} ms | ref @${cfg.p99TargetMs} ms | souk/ref (target ≥ 5) | souk @${cfg.p99SustainedMs} ms | ref @${cfg.p99SustainedMs} ms | souk/ref | CPU µs/delivery souk / ref | souk KB/viewer | ref KB/viewer | souk ≤ 20 KB |`);
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const cell = (v, rate) => (v === null || v === undefined ? '-' : `${Math.round(v)} (${rate ?? 'none'})`);
  const rat = (x, goal) => {
    if (x === null || x === undefined) return '-';
    if (x === Infinity) return '∞ (ref met the bound at no rate)';
    return `${x.toFixed(2)}${goal ? (x >= goal ? ' ✓' : ' ✗') : ''}`;
  };
  for (const s of summary) {
    const so = s.souk ?? {};
    const re = s.ref ?? {};
    const kb = so.kbPerIdleViewer;
    lines.push(
      `| ${s.viewers} | ${cell(so.maxDeliveredPerSec, so.atRate)} | ${cell(re.maxDeliveredPerSec, re.atRate)} | ${rat(s.throughputRatio, 5)} | ` +
        `${cell(so.sustainedDeliveredPerSec, so.sustainedAtRate)} | ${cell(re.sustainedDeliveredPerSec, re.sustainedAtRate)} | ${rat(s.sustainedRatio)} | ` +
        `${fmt(so.cpuUsPerDelivery, 2)} / ${fmt(re.cpuUsPerDelivery, 2)} | ${fmt(kb, 2)} | ${fmt(re.kbPerIdleViewer, 2)} | ${kb === null || kb === undefined ? '-' : kb <= 20 ? '✓' : '✗'} |`,
    );
  }
  for (const s of summary) {
    if (s.throughputRatio !== null || s.sustainedRatio !== null) {
      lines.push('', `ratio souk/ref at ${s.viewers} viewers: ${rat(s.throughputRatio)}${s.throughputRatio === Infinity || s.throughputRatio === null ? '' : '×'} delivered msgs/s at p99 ≤ ${cfg.p99TargetMs} ms (target ≥ 5×), ${rat(s.sustainedRatio)}× sustained, ${rat(s.cpuEfficiencyRatio)}× deliveries per server CPU-second, ${rat(s.memoryRatio)}× KB per idle viewer`);
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------

async function main() {
  const cfg = parseArgs(process.argv.slice(2));
  if (cfg.report) {
    // Re-render an earlier run with this version's summary (and today's bounds).
    const old = JSON.parse(await fsp.readFile(cfg.report, 'utf8'));
    const c = { ...old.config, p99TargetMs: cfg.p99TargetMs, p99SustainedMs: cfg.p99SustainedMs };
    console.log(markdown(c, old.results, summarize(c, old.results)));
    return;
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'souk-chat-bench-'));
  const poolSize = cfg.rates.reduce((a, r) => a + SenderPool.needed(r, cfg.duration), 0);
  const ctx = { dir, window: 0, poolSize, pool: null, souk: null };
  const results = [];
  const started = new Date().toISOString();
  try {
    if (cfg.servers.includes('souk')) {
      log(`souk set-up: a live stream and ${poolSize} sender users (template data directory)`);
      ctx.souk = await prepareSoukTemplate(cfg, path.join(dir, 'template'), poolSize);
    }
    for (let round = 1; round <= cfg.rounds; round++) {
      for (const viewers of cfg.viewers) {
        for (const server of cfg.servers) {
          // Every server run has its own rate-limit state: a fresh pool of users.
          ctx.pool = new SenderPool(poolSize);
          results.push(await measure(cfg, server, viewers, ctx, round));
        }
      }
    }
  } finally {
    if (!cfg.keepDirs) await fsp.rm(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
  const summary = summarize(cfg, results);
  const report = markdown(cfg, results, summary);
  console.log(report);
  const meta = {
    started,
    finished: new Date().toISOString(),
    host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memMb: Math.round(os.totalmem() / 2 ** 20), node: process.version },
    souk: cfg.souk,
  };
  await fsp.writeFile(cfg.out, JSON.stringify({ meta, config: cfg, results, summary, markdown: report }, null, 2));
  log(`results written to ${cfg.out}`);
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
