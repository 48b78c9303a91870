"""HLS egress (Souk vs nginx serving the same files) and API throughput, with wrk."""
import os
import subprocess
import tempfile

from . import common

EGRESS_CONNECTIONS = (50, 500)
# wrk, Souk Live and nginx share two cores: one 10 s run of a row moves by a
# fifth between runs, so each row is the median of a few, the order swapped
# each round.
EGRESS_ROUNDS = 5


def _publish_segments(souk, fixture, rtmp_publish):
    """A live stream with a full playlist: the fixture sent as fast as the server
    reads it; the stream stays live (its publisher gone), its playlist without ENDLIST."""
    seller = common.register(souk.url)
    stream = common.live_stream(souk.url, seller['token'])
    subprocess.run([rtmp_publish, fixture, stream['publish_url']], check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    playlist_path = os.path.join(souk.data_dir, 'hls', stream['id'], 'index.m3u8')
    with open(playlist_path) as f:
        segments = [line.strip() for line in f if line.strip() and not line.startswith('#')]
    if not segments:
        raise RuntimeError('the publish left no segments')
    return stream, segments[-1]


def egress(binary, fixture, rtmp_publish, seconds=10, connections=EGRESS_CONNECTIONS, rounds=EGRESS_ROUNDS):
    """wrk on a live playlist and on a segment, through Souk and through nginx
    serving the same files from the same directory, alternating; per server and
    row, the run with the median req/s, with every run's req/s."""
    rows = []
    with common.Souk(binary) as souk:
        stream, segment = _publish_segments(souk, fixture, rtmp_publish)
        seg_bytes = os.path.getsize(os.path.join(souk.data_dir, 'hls', stream['id'], segment))
        port = common.free_port()
        nginx = common.Nginx(f"""
http {{
  include /etc/nginx/mime.types;
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=1000 inactive=20s;
  server {{
    listen 127.0.0.1:{port};
    location /hls/ {{ root {souk.data_dir}; }}
  }}
}}
""").start(ports=[port])
        try:
            targets = {'playlist': f'/hls/{stream["id"]}/index.m3u8',
                       'segment': f'/hls/{stream["id"]}/{segment}'}
            servers = {'souk-live': (souk.url, souk.group()), 'nginx': (f'http://127.0.0.1:{port}', nginx.group())}
            for conns in connections:
                for what, path in targets.items():
                    runs = {name: [] for name in servers}
                    for _, name in common.alternating(list(servers), rounds):
                        base, group = servers[name]
                        result, cpu = common.measure_cpu(group, lambda: common.wrk(base + path, conns, seconds))
                        runs[name].append({'target': what, 'connections': conns, 'server': name,
                                           'cpu_percent': 100 * cpu / seconds,
                                           'bytes': seg_bytes if what == 'segment' else None, **result})
                    rows += [median_run(runs[name]) for name in servers]
        finally:
            nginx.stop()
    return rows


def median_run(runs):
    """The run with the median req/s, with every run's req/s and all their errors."""
    row = common.median_run(runs, 'rps')
    row['errors'] = sum(r['errors'] for r in runs)
    return row


EVENT_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"type": "view"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def api(binary, seconds=10, connections=64):
    """wrk on GET /streams/{id} and on POST product events (a buyer's token)."""
    rows = []
    with common.Souk(binary) as souk:
        seller = common.register(souk.url)
        stream = common.live_stream(souk.url, seller['token'])
        buyer = common.register(souk.url, 'buyer')
        with tempfile.NamedTemporaryFile('w', suffix='.lua', delete=False) as script:
            script.write(EVENT_SCRIPT % buyer['token'])
        try:
            runs = [
                ('GET /streams/{id}', f'{souk.url}/api/v1/streams/{stream["id"]}', None),
                ('POST /streams/{id}/products/{pid}/events',
                 f'{souk.url}/api/v1/streams/{stream["id"]}/products/{stream["product_id"]}/events', script.name),
            ]
            for name, url, lua in runs:
                result, cpu = common.measure_cpu(souk.group(), lambda: common.wrk(url, connections, seconds, script=lua))
                rows.append({'endpoint': name, 'connections': connections,
                             'cpu_percent': 100 * cpu / seconds, **result})
        finally:
            os.unlink(script.name)
    return rows
