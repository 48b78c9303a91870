"""Ingest: N publishers into Souk Live and into nginx with libnginx-mod-rtmp
(`hls on`, the same 2 s fragments, one worker per core).

The publishers are one rtmp-load process per run, writing as a real client does
(`--pattern`: ffmpeg, librtmp, or tag for the former one-write-per-tag way); one
row per pattern and server with recording off (nginx records nothing), plus Souk
Live with recording on for the ffmpeg pattern. A check runs N real ffmpeg
processes (`-re -stream_loop -1 -c copy -f flv`) against both servers and sets
their Souk/nginx CPU ratio beside rtmp-load's ffmpeg-pattern ratio at the same N.

Per row: CPU-seconds per stream-minute over a steady window (each server's
processes only), RSS per stream, whether every playlist kept advancing, and
segment availability latency: from the moment the keyframe that closes a segment
left the publisher's socket to the moment the server renamed a playlist listing
that segment into place (seen through inotify; rtmp-load's keyframe log, so not
for real ffmpeg).
"""
import bisect
import csv
import json
import os
import shutil
import signal
import subprocess
import threading
import time

from . import common, publishers
from .inotify import Inotify

COUNTS = (1, 50, 200, 500)
PATTERNS = ('ffmpeg', 'librtmp')
RECORDING_PATTERN = 'ffmpeg'  # the pattern of the Souk Live row with recording on
CHECK_PUBLISHERS = 40  # real ffmpeg processes this 2-core machine can drive
CHECK_RAMP_S = 2
CHECK_TOLERANCE = 0.1  # how far the real-process ratio and rtmp-load's may differ
WARMUP_S = 10
WINDOW_S = 30
ROUNDS = 3


def parse_playlist(text):
    """[(uri, duration)] in order."""
    out, duration = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('#EXTINF:'):
            duration = float(line[8:].split(',')[0])
        elif line and not line.startswith('#') and duration is not None:
            out.append((line, duration))
            duration = None
    return out


class PlaylistWatcher(threading.Thread):
    """Notes, per stream, when each segment is first listed and where it ends on
    the stream's timeline (the sum of the durations before it, and its own)."""

    def __init__(self, dirs):
        super().__init__(daemon=True)
        self.ino = Inotify()
        self.by_dir = {}
        for i, d in enumerate(dirs):
            os.makedirs(d, exist_ok=True)
            self.ino.watch(d)
            self.by_dir[d] = i
        self.streams = [{'seen': set(), 'end_ms': 0.0, 'listed': []} for _ in dirs]
        self.stopping = False
        self.lock = threading.Lock()

    def run(self):
        while not self.stopping:
            for d, name, _mask in self.ino.read(0.2):
                if name != 'index.m3u8':
                    continue
                now = time.time() * 1000
                try:
                    with open(os.path.join(d, name)) as f:
                        segments = parse_playlist(f.read())
                except OSError:
                    continue
                s = self.streams[self.by_dir[d]]
                with self.lock:
                    for uri, duration in segments:
                        if uri in s['seen']:
                            continue
                        s['seen'].add(uri)
                        s['end_ms'] += duration * 1000
                        s['listed'].append((s['end_ms'], now))
        self.ino.close()

    def segment_counts(self):
        with self.lock:
            return [len(s['listed']) for s in self.streams]

    def stop(self):
        self.stopping = True
        self.join()


def load_keyframes(path):
    """conn -> sorted [(ts_ms, sent_at_ms)] of the first session."""
    out = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            if row['session'] != '0':
                continue
            out.setdefault(int(row['conn']), []).append((int(row['ts_ms']), int(row['sent_at_ms'])))
    for v in out.values():
        v.sort()
    return out


def latencies(watcher, keyframes, window):
    """ms from closing keyframe sent to playlist listing, for segments listed in the window."""
    lo, hi = window
    out = []
    for conn, s in enumerate(watcher.streams):
        frames = keyframes.get(conn, [])
        stamps = [ts for ts, _ in frames]
        for end_ms, listed_at in s['listed']:
            if not lo <= listed_at <= hi or not frames:
                continue
            i = bisect.bisect_left(stamps, end_ms)
            best = min((j for j in (i - 1, i) if 0 <= j < len(frames)), key=lambda j: abs(stamps[j] - end_ms))
            if abs(stamps[best] - end_ms) > 250:
                continue  # no keyframe closes it here (the last, cut by the publisher's end)
            out.append(listed_at - frames[best][1])
    return sorted(out)


def percentile(values, p):
    if not values:
        return None
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def start_souk(binary, n, record=False):
    souk = common.Souk(binary, ['--rtmp-max-connections', str(n + 100), '--hls-segment-seconds', '2']).start()
    seller = common.register(souk.url)
    streams = [common.live_stream(souk.url, seller['token'], record=record) for _ in range(n)]
    urls = [s['publish_url'] for s in streams]
    dirs = [os.path.join(souk.data_dir, 'hls', s['id']) for s in streams]
    return souk, urls, dirs


def start_nginx_rtmp(n, workdir):
    port = common.free_port()
    hls = os.path.join(workdir, 'nginx-hls')
    os.makedirs(hls, exist_ok=True)
    nginx = common.Nginx(f"""
rtmp {{
  server {{
    listen 127.0.0.1:{port};
    chunk_size 4096;
    application live {{
      live on;
      hls on;
      hls_path {hls};
      hls_nested on;
      hls_fragment 2s;
      hls_playlist_length 12s;
    }}
  }}
}}
""", modules=['ngx_rtmp_module.so']).start(ports=[port])
    urls = [f'rtmp://127.0.0.1:{port}/live/s{i}' for i in range(n)]
    dirs = [os.path.join(hls, f's{i}') for i in range(n)]
    return nginx, urls, dirs


class RtmpLoadPublishers:
    """One rtmp-load process for all N publishers, with one write pattern."""

    def __init__(self, rtmp_load, fixture, pattern, urls_file, n, work):
        self.ramp = max(1.0, n / 40)
        self.duration = self.ramp + WARMUP_S + WINDOW_S + 4
        self.report = os.path.join(work, 'load.json')
        self.keyframe_log = os.path.join(work, 'keyframes.csv')
        self.cmd = publishers.rtmp_load(rtmp_load, fixture, pattern, int(self.duration), urls_file, n,
                                        ['--ramp', str(self.ramp), '--report', self.report,
                                         '--keyframe-log', self.keyframe_log])
        self.log = os.path.join(work, 'load.log')
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=open(self.log, 'w'))

    def stop(self):
        """After a failure: rtmp-load closes every connection on SIGTERM."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def finish(self):
        """{established, dropped, failed, keyframes, loadgen_cpu_s, ...} after it ends."""
        self.proc.wait(timeout=self.duration + 120)
        with open(self.report) as f:
            summary = json.load(f)
        conns = summary.get('connections', {})
        return {'established': conns.get('established'), 'dropped': conns.get('dropped'),
                'failed': conns.get('failed'), 'keyframes': load_keyframes(self.keyframe_log),
                'loadgen_cpu_s': summary.get('cpu_seconds'),
                'loadgen_schedule_lateness_p99_ms': (summary.get('schedule_lateness_ms') or {}).get('p99')}


class FfmpegPublishers:
    """N stock ffmpeg processes, started over CHECK_RAMP_S, stopped after the window."""

    def __init__(self, fixture, urls, work):
        self.ramp = CHECK_RAMP_S
        self.cmds = [publishers.ffmpeg(fixture, url) for url in urls]
        self.log = os.path.join(work, 'ffmpeg.log')
        self.procs = []

    def start(self):
        log = open(self.log, 'w')
        for cmd in self.cmds:
            self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log))
            time.sleep(self.ramp / len(self.cmds))

    def finish(self):
        """What rtmp-load's report would say, from the processes: an ffmpeg that
        exited before the window's end counts as dropped."""
        cpu = sum(common.cpu_seconds(p.pid) for p in self.procs if p.poll() is None)
        exited = [p for p in self.procs if p.poll() is not None]
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return {'established': len(self.procs) - len(exited), 'dropped': len(exited), 'failed': None,
                'keyframes': {}, 'loadgen_cpu_s': cpu, 'loadgen_schedule_lateness_p99_ms': None}

    def stop(self):
        self.finish()


def one(server, n, binary, rtmp_load, fixture, out, pattern='ffmpeg', record=False, real_ffmpeg=False):
    """One run: `server` ('souk-live' or 'nginx-rtmp') with N publishers, rtmp-load
    with `pattern` or (real_ffmpeg) N ffmpeg processes; Souk Live records with `record`."""
    publisher = 'ffmpeg' if real_ffmpeg else f'rtmp-load {pattern}'
    work = os.path.join(out, f'ingest-{server}{"-rec" if record else ""}-{publisher.replace(" ", "-")}-{n}')
    shutil.rmtree(work, ignore_errors=True)  # a previous run's segment names would look old
    os.makedirs(work, exist_ok=True)
    if server == 'souk-live':
        proc, urls, dirs = start_souk(binary, n, record)
    else:
        proc, urls, dirs = start_nginx_rtmp(n, work)
    load = None
    try:
        group = proc.group()
        rss_base = group.rss()
        watcher = PlaylistWatcher(dirs)
        watcher.start()
        urls_file = os.path.join(work, 'urls.txt')
        with open(urls_file, 'w') as f:
            f.write('\n'.join(urls) + '\n')
        if real_ffmpeg:
            load = FfmpegPublishers(fixture, urls, work)
        else:
            load = RtmpLoadPublishers(rtmp_load, fixture, pattern, urls_file, n, work)
        started = time.time()
        load.start()
        time.sleep(max(0.0, started + load.ramp + WARMUP_S - time.time()))
        group = proc.group()  # nginx's workers are known now
        cpu0, t0, counts0 = group.cpu(), time.time(), watcher.segment_counts()
        time.sleep(WINDOW_S)
        cpu1, t1, counts1 = group.cpu(), time.time(), watcher.segment_counts()
        rss = group.rss()
        summary = load.finish()
        load = None
        watcher.stop()
        lat = latencies(watcher, summary['keyframes'], (t0 * 1000, t1 * 1000))
        minutes = n * (t1 - t0) / 60
        return {
            'server': server, 'publishers': n, 'publisher': publisher, 'pattern': pattern,
            'record': record, 'real_ffmpeg': real_ffmpeg,
            'cpu_s_per_stream_min': (cpu1 - cpu0) / minutes,
            'cpu_percent': 100 * (cpu1 - cpu0) / (t1 - t0),
            'rss_mb_per_stream': (rss - rss_base) / n / 1e6,
            'rss_mb': rss / 1e6,
            'advancing': sum(1 for a, b in zip(counts0, counts1) if b > a),
            'established': summary['established'], 'dropped': summary['dropped'],
            'failed': summary['failed'],
            'latency_ms': {'samples': len(lat), 'p50': percentile(lat, 50), 'p95': percentile(lat, 95),
                           'max': lat[-1] if lat else None},
            'loadgen_cpu_s': summary['loadgen_cpu_s'],
            'loadgen_schedule_lateness_p99_ms': summary['loadgen_schedule_lateness_p99_ms'],
        }
    finally:
        if load is not None:
            load.stop()
        proc.stop()


# A run's setting: (server, rtmp-load pattern, Souk Live recording, real ffmpeg).
SOUK, NGINX = 'souk-live', 'nginx-rtmp'


def settings(pattern):
    """The runs of one pattern: both servers with recording off, and Souk Live
    recording for RECORDING_PATTERN."""
    out = [(SOUK, pattern, False, False), (NGINX, pattern, False, False)]
    if pattern == RECORDING_PATTERN:
        out.append((SOUK, pattern, True, False))
    return out


def run(binary, rtmp_load, fixture, out, counts=COUNTS, rounds=ROUNDS, patterns=PATTERNS,
        check_publishers=CHECK_PUBLISHERS):
    """Each N and pattern in `rounds` rounds, the settings alternating and their
    order swapped each round. On this 2-core machine one server's CPU per
    stream-minute moves by up to a sixth between runs of the same code, so a single
    pair can land either side of a target; each row is its setting's median run,
    with every run's CPU. Then the real-ffmpeg check at `check_publishers` (0: none)."""
    rows = []
    for n in counts:
        for pattern in patterns:
            rows += runs_of(settings(pattern), n, binary, rtmp_load, fixture, out, rounds)
    if check_publishers:
        n = check_publishers
        check = [(SOUK, 'ffmpeg', False, True), (NGINX, 'ffmpeg', False, True),
                 (SOUK, 'ffmpeg', False, False), (NGINX, 'ffmpeg', False, False)]
        for row in runs_of(check, n, binary, rtmp_load, fixture, out, rounds):
            row['check'] = True
            rows.append(row)
    return rows


def runs_of(setups, n, binary, rtmp_load, fixture, out, rounds):
    runs = {setup: [] for setup in setups}
    for r, setup in common.alternating(setups, rounds):
        server, pattern, record, real = setup
        who = f'{n} ffmpeg processes' if real else f'rtmp-load {pattern}, {n} publishers'
        print(f'   {server}{" recording" if record else ""} with {who} (round {r + 1} of {rounds})', flush=True)
        row = one(server, n, binary, rtmp_load, fixture, out, pattern, record, real)
        runs[setup].append(row)
        # Each run as it ends, so a section cut short still leaves its numbers.
        with open(os.path.join(out, 'ingest-runs.jsonl'), 'a') as f:
            f.write(json.dumps({'round': r + 1, 'n': n, 'server': server, 'pattern': pattern,
                                'record': record, 'real': real, **row}, default=str) + '\n')
        print(f'      {row["cpu_s_per_stream_min"]:.4f} CPU-s / stream-min', flush=True)
    return [median_run(runs[setup]) for setup in setups]


def median_run(runs):
    """The run with the median CPU, and over all runs: each run's CPU, the fewest
    playlists advancing and the most publishers dropped (a target holds only if it
    held in every run)."""
    row = common.median_run(runs, 'cpu_s_per_stream_min')
    row['advancing'] = min(r['advancing'] for r in runs)
    row['dropped'] = max((r['dropped'] or 0 for r in runs), default=0)
    return row


def server_label(row):
    return row['server'] + (', recording' if row.get('record') else '')


def nginx_reference(rows):
    """(publishers, publisher) -> the nginx-rtmp row with the same publishers."""
    return {(r['publishers'], r['publisher']): r for r in rows if r['server'] == NGINX}


def render(rows):
    header = ['publishers', 'publisher', 'server', 'CPU-s / stream-min: median (runs)', 'ratio', 'CPU %',
              'RSS MB / stream', 'playlists advancing', 'dropped', 'segment latency p50 / p95 / max ms (n)']
    main = [r for r in rows if not r.get('check')]
    lines, ref = [], nginx_reference(main)
    for r in main:
        other = ref.get((r['publishers'], r['publisher']))
        ratio = common.ratio(r['cpu_s_per_stream_min'], other and other['cpu_s_per_stream_min'])
        lat = r['latency_ms']
        lines.append([r['publishers'], r['publisher'], server_label(r),
                      common.with_runs(r['cpu_s_per_stream_min'], r.get('cpu_s_per_stream_min_runs', []), 3),
                      common.fmt(ratio, 2) if r['server'] == SOUK else '',
                      common.fmt(r['cpu_percent'], 0), common.fmt(r['rss_mb_per_stream'], 2),
                      f"{r['advancing']}/{r['publishers']}", r['dropped'],
                      f"{common.fmt(lat['p50'], 0)} / {common.fmt(lat['p95'], 0)} / {common.fmt(lat['max'], 0)} ({lat['samples']})"])
    text = common.table(header, lines) if lines else ''
    check = [r for r in rows if r.get('check')]
    if check:
        text += '\n\nCheck on the generator: real ffmpeg processes against rtmp-load\'s ffmpeg pattern\n\n'
        text += render_check(check)
    return text.lstrip('\n')


def render_check(rows):
    """Souk/nginx CPU ratio with real ffmpeg processes and with rtmp-load's ffmpeg
    pattern at the same N, and whether they agree within CHECK_TOLERANCE."""
    header = ['publishers', 'publisher', 'souk-live CPU-s / stream-min: median (runs)',
              'nginx-rtmp CPU-s / stream-min: median (runs)', 'ratio', 'playlists advancing (souk, nginx)',
              'dropped (souk, nginx)', f'ratio − real ffmpeg\'s (within {CHECK_TOLERANCE})']
    by = {(r['publisher'], r['server']): r for r in rows}
    real_ratio = None
    lines = []
    for publisher in ('ffmpeg', 'rtmp-load ffmpeg'):
        souk, nginx = by.get((publisher, SOUK)), by.get((publisher, NGINX))
        if not souk or not nginx:
            continue
        ratio = common.ratio(souk['cpu_s_per_stream_min'], nginx['cpu_s_per_stream_min'])
        if publisher == 'ffmpeg':
            real_ratio, agreement = ratio, ''
        elif ratio is None or real_ratio is None:
            agreement = '–'
        else:
            diff = ratio - real_ratio
            agreement = f"{diff:+.2f} {'PASS' if abs(diff) <= CHECK_TOLERANCE else 'FAIL'}"
        n = souk['publishers']
        lines.append([n, f'{n} ffmpeg processes' if publisher == 'ffmpeg' else publisher,
                      common.with_runs(souk['cpu_s_per_stream_min'], souk.get('cpu_s_per_stream_min_runs', []), 3),
                      common.with_runs(nginx['cpu_s_per_stream_min'], nginx.get('cpu_s_per_stream_min_runs', []), 3),
                      common.fmt(ratio, 2), f"{souk['advancing']}/{n}, {nginx['advancing']}/{n}",
                      f"{souk['dropped']}, {nginx['dropped']}", agreement])
    return common.table(header, lines)
