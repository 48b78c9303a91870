"""Soak: 50 publishers, 1,000 Socket.IO viewers, HLS players and steady chat for
a long run. Pass when, after warm-up, RSS and open descriptors stay flat, the log
has no error, every playlist keeps advancing, and the chat rows in the database
equal the messages the server acknowledged."""
import json
import os
import subprocess
import threading
import time
import urllib.request

from . import common

PUBLISHERS = 50
VIEWERS = 1000
HLS_PLAYERS = 100      # two per stream, fetching the playlist and each new segment
CHATTERS = 60          # each under the 10-a-minute limit at the total rate below
CHAT_RATE = 5          # messages a second
SAMPLE_S = 30
WARMUP_S = 120


def hls_player(url, stop, stats):
    """Fetches the playlist every 2 s and each segment it has not fetched yet."""
    base = url.rsplit('/', 1)[0] + '/'
    fetched = set()
    while not stop.is_set():
        try:
            with common.OPENER.open(url, timeout=10) as r:
                playlist = r.read().decode()
            for line in playlist.splitlines():
                if line and not line.startswith('#') and line not in fetched:
                    with common.OPENER.open(base + line, timeout=10) as r:
                        stats['bytes'] += len(r.read())
                    fetched.add(line)
                    stats['segments'] += 1
        except OSError:
            stats['errors'] += 1
        stop.wait(2)


def run(binary, rtmp_load, fixture, out, minutes):
    work = os.path.join(out, 'soak')
    os.makedirs(work, exist_ok=True)
    duration = int(minutes * 60)
    # Every viewer comes from 127.0.0.1: the per-address bounds are lifted.
    souk = common.Souk(binary, ["--rtmp-max-connections", "200", "--realtime-max-per-address", "1000000",
                                "--joins-per-minute", "10000"], log_level="info").start()
    stop = threading.Event()
    try:
        seller = common.register(souk.url)
        streams = [common.live_stream(souk.url, seller['token']) for _ in range(PUBLISHERS)]
        chatters = [common.register(souk.url, 'buyer')['token'] for _ in range(CHATTERS)]
        with open(os.path.join(work, 'urls.txt'), 'w') as f:
            f.write('\n'.join(s['publish_url'] for s in streams) + '\n')
        with open(os.path.join(work, 'streams.json'), 'w') as f:
            json.dump([s['id'] for s in streams], f)
        with open(os.path.join(work, 'tokens.json'), 'w') as f:
            json.dump(chatters, f)

        load = subprocess.Popen([rtmp_load, '--flv', fixture, '--urls', os.path.join(work, 'urls.txt'),
                                 '--duration', str(duration + 60), '--ramp', '5', '--progress', '0',
                                 '--report', os.path.join(work, 'load.json')],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, 'load.log'), 'w'))
        time.sleep(8)
        clients = subprocess.Popen(['node', os.path.join(common.BENCH_DIR, 'chat', 'soak-clients.mjs'),
                                    '--port', str(souk.http_port), '--streams', os.path.join(work, 'streams.json'),
                                    '--tokens', os.path.join(work, 'tokens.json'), '--viewers', str(VIEWERS),
                                    '--rate', str(CHAT_RATE), '--duration', str(duration),
                                    '--summary', os.path.join(work, 'clients.json')],
                                   stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, 'clients.log'), 'w'))
        hls_stats = {'segments': 0, 'bytes': 0, 'errors': 0}
        players = [threading.Thread(target=hls_player, args=(streams[i % PUBLISHERS]['hls_url'], stop, hls_stats),
                                    daemon=True) for i in range(HLS_PLAYERS)]
        for p in players:
            p.start()

        samples, start = [], time.time()
        seq_dirs = [os.path.join(souk.data_dir, 'hls', s['id'], 'index.m3u8') for s in streams]
        while time.time() - start < duration:
            time.sleep(SAMPLE_S)
            samples.append({'t': round(time.time() - start), 'rss_mb': common.rss_bytes(souk.pid) / 1e6,
                            'fds': common.open_fds(souk.pid), 'cpu_s': common.cpu_seconds(souk.pid),
                            'sequences': [media_sequence(p) for p in seq_dirs]})
            last = samples[-1]
            print(f"   soak t={last['t']} s rss={last['rss_mb']:.0f} MB fds={last['fds']}", flush=True)
        clients.wait(timeout=180)
        with open(os.path.join(work, 'clients.json')) as f:
            summary = json.load(f)
        stop.set()
        load.terminate()
        load.wait(60)
        stored = int(subprocess.run(['sqlite3', os.path.join(souk.data_dir, 'souk.db'),
                                     'SELECT COUNT(*) FROM chat_messages'],
                                    capture_output=True, text=True, check=True).stdout.strip())
        with open(souk.log_path, errors='replace') as f:
            log = f.read().splitlines()
        errors = [line for line in log if ' error ' in line or ' critical ' in line]
        warnings = [line for line in log if ' warning ' in line]
        return summarize(samples, summary, stored, errors, warnings, hls_stats, minutes)
    finally:
        stop.set()
        souk.stop(keep=True)


def media_sequence(playlist):
    try:
        with open(playlist) as f:
            for line in f:
                if line.startswith('#EXT-X-MEDIA-SEQUENCE:'):
                    return int(line.split(':')[1])
    except OSError:
        pass
    return None


def summarize(samples, summary, stored, errors, warnings, hls, minutes):
    steady = [s for s in samples if s['t'] >= WARMUP_S] or samples
    first, last = steady[0], steady[-1]
    advancing = sum(1 for a, b in zip(first['sequences'], last['sequences']) if a is not None and b is not None and b > a)
    return [{
        'minutes': minutes,
        'rss_mb_after_warmup': first['rss_mb'], 'rss_mb_end': last['rss_mb'],
        'rss_mb_max': max(s['rss_mb'] for s in steady),
        'fds_after_warmup': first['fds'], 'fds_end': last['fds'], 'fds_max': max(s['fds'] for s in steady),
        'cpu_percent': 100 * (last['cpu_s'] - first['cpu_s']) / max(1, last['t'] - first['t']),
        'playlists_advancing': advancing, 'publishers': PUBLISHERS,
        'viewers': summary.get('viewers'), 'chat_sent': summary.get('sent'), 'chat_acked': summary.get('acked'),
        'chat_refused': summary.get('refused'), 'chat_unanswered': summary.get('unanswered'),
        'chat_rows': stored, 'log_errors': len(errors), 'log_error_lines': errors[:10],
        'log_warnings': len(warnings), 'log_warning_lines': warnings[:10],
        'hls_segments_fetched': hls['segments'], 'hls_errors': hls['errors'],
        'samples': [{k: v for k, v in s.items() if k != 'sequences'} for s in samples],
    }]


def render(rows):
    r = rows[0]
    v = r['viewers'] or {}
    lines = [
        ['RSS MB (after warm-up → end, max)', f"{r['rss_mb_after_warmup']:.0f} → {r['rss_mb_end']:.0f} (max {r['rss_mb_max']:.0f})"],
        ['open descriptors (after warm-up → end, max)', f"{r['fds_after_warmup']} → {r['fds_end']} (max {r['fds_max']})"],
        ['server CPU %', common.fmt(r['cpu_percent'], 0)],
        ['playlists advancing', f"{r['playlists_advancing']}/{r['publishers']}"],
        ['viewers connected / lost', f"{v.get('connected')} / {v.get('lost')}"],
        ['chat sent / acked / refused / unanswered', f"{r['chat_sent']} / {r['chat_acked']} / {r['chat_refused']} / {r['chat_unanswered']}"],
        ['chat rows in the database', r['chat_rows']],
        ['HLS segments fetched / errors', f"{r['hls_segments_fetched']} / {r['hls_errors']}"],
        ['log errors / warnings', f"{r['log_errors']} / {r['log_warnings']}"],
    ]
    return common.table(['figure', 'value'], lines)
