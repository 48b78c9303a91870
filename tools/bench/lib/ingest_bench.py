"""Ingest: N publishers (rtmp-load, one process) into Souk Live and into nginx with
libnginx-mod-rtmp (`hls on`, the same 2 s fragments, one worker per core).

Per server and N: CPU-seconds per stream-minute over a steady window, RSS per
stream, whether every playlist kept advancing, and segment availability latency:
from the moment the keyframe that closes a segment left the publisher's socket to
the moment the server renamed a playlist listing that segment into place (seen
through inotify).
"""
import bisect
import csv
import json
import os
import shutil
import subprocess
import threading
import time

from . import common
from .inotify import Inotify

COUNTS = (1, 50, 200, 500)
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


def start_souk(binary, n):
    souk = common.Souk(binary, ['--rtmp-max-connections', str(n + 100), '--hls-segment-seconds', '2']).start()
    seller = common.register(souk.url)
    streams = [common.live_stream(souk.url, seller['token'], record=False) for _ in range(n)]
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


def one(server, n, binary, rtmp_load, fixture, out):
    work = os.path.join(out, f'ingest-{server}-{n}')
    shutil.rmtree(work, ignore_errors=True)  # a previous run's segment names would look old
    os.makedirs(work, exist_ok=True)
    if server == 'souk-live':
        proc, urls, dirs = start_souk(binary, n)
    else:
        proc, urls, dirs = start_nginx_rtmp(n, work)
    try:
        group = proc.group()
        rss_base = group.rss()
        watcher = PlaylistWatcher(dirs)
        watcher.start()
        urls_file = os.path.join(work, 'urls.txt')
        with open(urls_file, 'w') as f:
            f.write('\n'.join(urls) + '\n')
        ramp = max(1.0, n / 40)
        duration = ramp + WARMUP_S + WINDOW_S + 4
        report = os.path.join(work, 'load.json')
        keyframe_log = os.path.join(work, 'keyframes.csv')
        load = subprocess.Popen([rtmp_load, '--flv', fixture, '--urls', urls_file, '--count', str(n),
                                 '--duration', str(int(duration)), '--ramp', str(ramp), '--progress', '0',
                                 '--report', report, '--keyframe-log', keyframe_log],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, 'load.log'), 'w'))
        time.sleep(ramp + WARMUP_S)
        group = proc.group()  # nginx's workers are known now
        cpu0, t0, counts0 = group.cpu(), time.time(), watcher.segment_counts()
        time.sleep(WINDOW_S)
        cpu1, t1, counts1 = group.cpu(), time.time(), watcher.segment_counts()
        rss = group.rss()
        load.wait(timeout=duration + 120)
        watcher.stop()
        with open(report) as f:
            summary = json.load(f)
        lat = latencies(watcher, load_keyframes(keyframe_log), (t0 * 1000, t1 * 1000))
        minutes = n * (t1 - t0) / 60
        conns = summary.get('connections', {})
        return {
            'server': server, 'publishers': n,
            'cpu_s_per_stream_min': (cpu1 - cpu0) / minutes,
            'cpu_percent': 100 * (cpu1 - cpu0) / (t1 - t0),
            'rss_mb_per_stream': (rss - rss_base) / n / 1e6,
            'rss_mb': rss / 1e6,
            'advancing': sum(1 for a, b in zip(counts0, counts1) if b > a),
            'established': conns.get('established'), 'dropped': conns.get('dropped'),
            'failed': conns.get('failed'),
            'latency_ms': {'samples': len(lat), 'p50': percentile(lat, 50), 'p95': percentile(lat, 95),
                           'max': lat[-1] if lat else None},
            'loadgen_cpu_s': summary.get('cpu_seconds'),
            'loadgen_schedule_lateness_p99_ms': (summary.get('schedule_lateness_ms') or {}).get('p99'),
        }
    finally:
        proc.stop()


def run(binary, rtmp_load, fixture, out, counts=COUNTS, rounds=ROUNDS):
    """Each N in `rounds` rounds, the two servers alternating and the order swapped
    each round. On this 2-core machine one server's CPU per stream-minute moves by
    up to a sixth between runs of the same code, so a single pair can land either
    side of a target; each server's row is its median run, with every run's CPU."""
    rows = []
    for n in counts:
        servers = ('souk-live', 'nginx-rtmp')
        runs = {server: [] for server in servers}
        for r, server in common.alternating(servers, rounds):
            print(f'   {server} with {n} publishers (round {r + 1} of {rounds})', flush=True)
            runs[server].append(one(server, n, binary, rtmp_load, fixture, out))
        rows += [median_run(runs[server]) for server in servers]
    return rows


def median_run(runs):
    """The run with the median CPU, and over all runs: each run's CPU, the fewest
    playlists advancing and the most publishers dropped (a target holds only if it
    held in every run)."""
    row = common.median_run(runs, 'cpu_s_per_stream_min')
    row['advancing'] = min(r['advancing'] for r in runs)
    row['dropped'] = max((r['dropped'] or 0 for r in runs), default=0)
    return row


def render(rows):
    header = ['publishers', 'server', 'CPU-s / stream-min: median (runs)', 'ratio', 'CPU %', 'RSS MB / stream',
              'playlists advancing', 'dropped', 'segment latency p50 / p95 / max ms (n)']
    lines, ref = [], {r['publishers']: r for r in rows if r['server'] == 'nginx-rtmp'}
    for r in rows:
        other = ref.get(r['publishers'])
        ratio = common.ratio(r['cpu_s_per_stream_min'], other and other['cpu_s_per_stream_min'])
        lat = r['latency_ms']
        lines.append([r['publishers'], r['server'],
                      common.with_runs(r['cpu_s_per_stream_min'], r.get('cpu_s_per_stream_min_runs', []), 3),
                      common.fmt(ratio, 2) if r['server'] == 'souk-live' else '',
                      common.fmt(r['cpu_percent'], 0), common.fmt(r['rss_mb_per_stream'], 2),
                      f"{r['advancing']}/{r['publishers']}", r['dropped'],
                      f"{common.fmt(lat['p50'], 0)} / {common.fmt(lat['p95'], 0)} / {common.fmt(lat['max'], 0)} ({lat['samples']})"])
    return common.table(header, lines)
