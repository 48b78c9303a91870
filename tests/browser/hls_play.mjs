// Plays a live HLS stream with hls.js in headless Chromium (Debian's, driven by
// playwright-core) and checks that video.currentTime advances.
//
//   node tests/browser/hls_play.mjs <playlist URL> [--timeout-ms N] [--advance-s S]
//
// Prints what the browser supports, currentTime samples and every hls.js error.
// Exit 0: currentTime advanced by at least --advance-s (default 2) seconds of
// playback; 1: a fatal hls.js error, a media error or no such progress before
// --timeout-ms (default 25000); 2: bad usage or no browser to run.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

const require = createRequire(import.meta.url);

function usage(message) {
  console.error(`hls_play: ${message}`);
  console.error('usage: node hls_play.mjs <playlist URL> [--timeout-ms N] [--advance-s S]');
  process.exit(2);
}

const args = process.argv.slice(2);
let url = '';
let timeoutMs = 25000;
let advanceS = 2;
for (let i = 0; i < args.length; ++i) {
  const a = args[i];
  if (a === '--timeout-ms' && i + 1 < args.length) timeoutMs = Number(args[++i]);
  else if (a === '--advance-s' && i + 1 < args.length) advanceS = Number(args[++i]);
  else if (!a.startsWith('--') && url === '') url = a;
  else usage(`unexpected argument ${a}`);
}
if (url === '') usage('no playlist URL');
if (!(timeoutMs > 0) || !(advanceS > 0)) usage('bad --timeout-ms or --advance-s');

// Debian's chromium package (tools/install-deps.sh); never a downloaded browser.
const executablePath = process.env.SOUK_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`hls_play: ${executablePath} not found (tools/install-deps.sh installs chromium)`);
  process.exit(2);
}

let chromium;
let hlsScript;
try {
  ({ chromium } = require('playwright-core'));
  hlsScript = require.resolve('hls.js/dist/hls.min.js');
} catch (e) {
  console.error(`hls_play: ${e.message} (run \`make browser-deps\`, i.e. npm ci in tests/browser)`);
  process.exit(2);
}

const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1).padStart(5);
const log = (line) => console.log(`[${elapsed()} s] ${line}`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(browser) {
  const page = await browser.newPage();
  page.on('console', (m) => log(`page ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log(`page exception: ${e.message}`));
  page.on('requestfailed', (r) => log(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));

  await page.setContent('<!doctype html><title>hls_play</title><video id="v" muted playsinline></video>');
  await page.addScriptTag({ path: hlsScript });

  const support = await page.evaluate(() => ({
    userAgent: navigator.userAgent,
    hlsVersion: window.Hls ? window.Hls.version : null,
    hlsSupported: window.Hls ? window.Hls.isSupported() : false,
    mseH264Aac: typeof MediaSource !== 'undefined' &&
      MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"'),
    mseH264: typeof MediaSource !== 'undefined' &&
      MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"'),
    mseAac: typeof MediaSource !== 'undefined' &&
      MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
  }));
  log(`browser: ${support.userAgent}`);
  log(`hls.js ${support.hlsVersion}: Hls.isSupported()=${support.hlsSupported}`);
  log(`MediaSource.isTypeSupported avc1.42E01E+mp4a.40.2=${support.mseH264Aac}` +
      ` avc1.42E01E=${support.mseH264} mp4a.40.2=${support.mseAac}`);
  if (!support.hlsSupported || !support.mseH264Aac) {
    log('FAIL: this browser cannot play H.264/AAC through Media Source Extensions');
    return false;
  }

  await page.evaluate((src) => {
    const video = document.getElementById('v');
    const state = { errors: [], fatal: null, playingAt: null, playError: null, events: [] };
    window.__souk = state;
    const note = (e) => {
      state.events.push(e);
      console.log(e);
    };
    const hls = new window.Hls({ debug: false, enableWorker: true });
    window.__hls = hls;
    hls.on(window.Hls.Events.ERROR, (_event, data) => {
      const what = `hls.js ${data.fatal ? 'FATAL' : 'non-fatal'} error: ${data.type}/${data.details}` +
        (data.response ? ` (HTTP ${data.response.code})` : '') +
        (data.url ? ` ${data.url}` : '') + (data.error ? ` ${data.error.message}` : '');
      state.errors.push(what);
      console.log(what);
      if (data.fatal) state.fatal = what;
    });
    hls.on(window.Hls.Events.MANIFEST_PARSED, (_event, data) =>
      note(`manifest parsed: ${data.levels.length} level(s), ` +
        data.levels.map((l) => `${l.width}x${l.height} ${l.videoCodec ?? '?'}/${l.audioCodec ?? '?'}`).join(', ')));
    hls.on(window.Hls.Events.BUFFER_CODECS, (_event, data) =>
      note(`buffer codecs: ${Object.entries(data).filter(([, v]) => v && typeof v === 'object')
        .map(([k, v]) => `${k}=${v.codec ?? v.container}`).join(' ')}`));
    hls.on(window.Hls.Events.FRAG_BUFFERED, (_event, data) =>
      note(`fragment buffered: sn ${data.frag.sn} ${data.frag.duration.toFixed(2)} s`));
    video.addEventListener('playing', () => {
      if (state.playingAt === null) state.playingAt = video.currentTime;
      note(`video playing at currentTime ${video.currentTime.toFixed(3)}`);
    });
    video.addEventListener('error', () => {
      const err = video.error;
      state.fatal = `video element error: code ${err?.code} ${err?.message ?? ''}`;
      console.log(state.fatal);
    });
    video.muted = true;
    hls.loadSource(src);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.MEDIA_ATTACHED, () => {
      video.play().catch((e) => {
        state.playError = `play() rejected: ${e.name}: ${e.message}`;
        console.log(state.playError);
      });
    });
  }, url);

  const deadline = started + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    await sleep(500);
    const s = await page.evaluate(() => {
      const v = document.getElementById('v');
      const ranges = [];
      for (let i = 0; i < v.buffered.length; ++i) {
        ranges.push(`${v.buffered.start(i).toFixed(2)}-${v.buffered.end(i).toFixed(2)}`);
      }
      const quality = v.getVideoPlaybackQuality();
      return {
        frames: quality.totalVideoFrames,
        dropped: quality.droppedVideoFrames,
        width: v.videoWidth,
        height: v.videoHeight,
        currentTime: v.currentTime,
        paused: v.paused,
        readyState: v.readyState,
        buffered: ranges.join(',') || 'none',
        playingAt: window.__souk.playingAt,
        fatal: window.__souk.fatal,
        playError: window.__souk.playError,
      };
    });
    const line = `currentTime ${s.currentTime.toFixed(3)} readyState ${s.readyState}` +
      ` paused ${s.paused} buffered ${s.buffered} video ${s.width}x${s.height}` +
      ` frames ${s.frames} (dropped ${s.dropped})`;
    if (line !== last) log(line);
    last = line;
    if (s.fatal) {
      log(`FAIL: ${s.fatal}`);
      return false;
    }
    if (s.playError && s.paused) {
      log(`FAIL: ${s.playError}`);
      return false;
    }
    // Video frames decoded too, so it is not the audio track alone moving the clock.
    if (s.playingAt !== null && s.currentTime - s.playingAt >= advanceS && s.frames > 0 &&
        s.width > 0) {
      log(`PASS: currentTime advanced ${(s.currentTime - s.playingAt).toFixed(3)} s` +
          ` (from ${s.playingAt.toFixed(3)} to ${s.currentTime.toFixed(3)}),` +
          ` ${s.frames} ${s.width}x${s.height} video frames decoded`);
      return true;
    }
  }
  const errors = await page.evaluate(() => window.__souk.errors);
  log(`FAIL: currentTime did not advance by ${advanceS} s within ${timeoutMs} ms` +
      (errors.length ? `; hls.js errors: ${errors.join('; ')}` : '; no hls.js errors'));
  return false;
}

// playwright-core passes --headless, --no-sandbox and a fresh temp --user-data-dir
// (removed when the browser closes).
let ok = false;
let browser;
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    chromiumSandbox: false,
    timeout: 15000,
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  ok = await run(browser);
} catch (e) {
  log(`FAIL: ${e.stack ?? e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
}
process.exit(ok ? 0 : 1);
