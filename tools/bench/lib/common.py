"""What every benchmark needs: servers started and stopped by the bench itself
(souk-live and the reference nginx), free loopback ports, process CPU/RSS/fd
figures from /proc, wrk runs, and the Souk REST calls that set a stream up.

Standard library only. Only 127.0.0.1 is ever a network target.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

CLK_TCK = os.sysconf('SC_CLK_TCK')
PAGE = os.sysconf('SC_PAGE_SIZE')
BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(BENCH_DIR))

# Straight to the server: no HTTP proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    """A port free to listen on, below the kernel's ephemeral range: a port the
    kernel picked (bind to 0) comes from that range, where the load generator's
    hundreds of outgoing connections take theirs, and one of them can hold it by
    the time the server binds ("Address already in use", seen at N = 200)."""
    with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
        ephemeral_low = int(f.read().split()[0])
    low = 10000 if ephemeral_low > 11000 else 1024
    for _ in range(200):
        port = random.randrange(low, ephemeral_low)
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    raise RuntimeError(f'no free port in {low}-{ephemeral_low - 1}')


def wait_port(port, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f'nothing listens on 127.0.0.1:{port} after {timeout} s')


# ---- /proc ------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a process (and its reaped children: none here), seconds."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid):
    with open(f'/proc/{pid}/statm') as f:
        return int(f.read().split()[1]) * PAGE


def open_fds(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


class ProcessGroup:
    """Figures summed over several processes (nginx's master and workers)."""

    def __init__(self, pids):
        self.pids = list(pids)

    def cpu(self):
        return sum(cpu_seconds(p) for p in self.pids)

    def rss(self):
        return sum(rss_bytes(p) for p in self.pids)


# ---- souk-live --------------------------------------------------------------

class Souk:
    """souk-live serve on free loopback ports with a fresh data directory."""

    def __init__(self, binary, extra_args=(), log_level='warn', data_dir=None):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix='souk-bench-')
        os.chmod(self.tmp, 0o755)  # the reference nginx's workers read the same files
        self.data_dir = data_dir or os.path.join(self.tmp, 'data')
        self.http_port = free_port()
        self.rtmp_port = free_port()
        self.log_path = os.path.join(self.tmp, 'server.log')
        self.args = [binary, 'serve', '--data-dir', self.data_dir,
                     '--http-listen', f'127.0.0.1:{self.http_port}',
                     '--rtmp-listen', f'127.0.0.1:{self.rtmp_port}',
                     '--log-level', log_level, *extra_args]
        self.proc = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.http_port}'

    def start(self):
        self.log = open(self.log_path, 'ab')
        # Every bench publisher and viewer comes from 127.0.0.1: lift the per-address caps
        # (issue 21). An environment variable, which builds from before it ignore.
        env = dict(os.environ, SOUK_RTMP_MAX_PER_ADDRESS='100000', SOUK_HTTP_MAX_PER_ADDRESS='1000000')
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log,
                                     preexec_fn=raise_fd_limit, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'souk-live exited at start-up: {self.log_tail()}')
            try:
                with OPENER.open(self.url + '/healthz', timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f'souk-live did not become ready: {self.log_tail()}')

    @property
    def pid(self):
        return self.proc.pid

    def group(self):
        return ProcessGroup([self.pid])

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors='replace') as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return ''

    def stop(self, keep=False):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def raise_fd_limit():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class ApiError(Exception):
    pass


def api(base, method, path, body=None, token=None, timeout=30):
    """One REST call; returns the envelope's data."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base.rstrip('/') + '/api/v1' + path, data=data, method=method)
    req.add_header('Content-Type', 'application/json')
    if token:
        req.add_header('Authorization', 'Bearer ' + token)
    try:
        with OPENER.open(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b'{}').get('data')
    except urllib.error.HTTPError as e:
        raise ApiError(f'{method} {path}: HTTP {e.code} {e.read().decode(errors="replace")[:300]}') from None
    except urllib.error.URLError as e:
        raise ApiError(f'{method} {path}: {e.reason}') from None


def register(base, role='seller'):
    name = f'bench_{role}_{os.urandom(5).hex()}'
    data = api(base, 'POST', '/auth/register',
               {'username': name, 'password': os.urandom(12).hex(), 'role': role})
    return {'id': data['user']['id'], 'token': data['token'], 'username': name}


def live_stream(base, seller_token, record=True):
    """A product, a stream with it, go-live: {id, product_id, publish_url, hls_url}."""
    product = api(base, 'POST', '/products',
                  {'title': 'Bench rug', 'price_cents': 4999, 'currency': 'USD'}, seller_token)
    stream = api(base, 'POST', '/streams',
                 {'title': 'bench', 'product_ids': [product['id']], 'record_stream': record,
                  'notify_followers': False, 'notify_neighborhood': False}, seller_token)
    sid = stream['streamId']
    live = api(base, 'POST', f'/streams/{sid}/go-live',
               {'camera_ready': True, 'checklist_complete': True}, seller_token)
    return {'id': sid, 'product_id': product['id'],
            'publish_url': live['rtmpUrl'].rstrip('/') + '/' + live['streamKey'],
            'hls_url': live['hlsUrl']}


# ---- nginx ------------------------------------------------------------------

NGINX_MODULES = '/usr/lib/nginx/modules'


class Nginx:
    """The Debian nginx with a config written from `body` (http/rtmp blocks),
    one worker per core, in its own prefix directory."""

    def __init__(self, body, modules=(), workers=None):
        self.prefix = tempfile.mkdtemp(prefix='nginx-bench-')
        os.makedirs(os.path.join(self.prefix, 'logs'))
        load = ''.join(f'load_module {NGINX_MODULES}/{m};\n' for m in modules)
        user = 'user root;' if os.geteuid() == 0 else ''  # workers read files the bench made
        conf = f"""{load}
{user}
daemon off;
master_process on;
worker_processes {workers or os.cpu_count()};
worker_rlimit_nofile 65536;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/logs/error.log warn;
events {{ worker_connections 16384; }}
{body}
"""
        self.conf = os.path.join(self.prefix, 'nginx.conf')
        with open(self.conf, 'w') as f:
            f.write(conf)
        self.proc = None

    def start(self, ports=()):
        self.proc = subprocess.Popen(['nginx', '-p', self.prefix, '-c', self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=raise_fd_limit)
        for p in ports:
            try:
                wait_port(p)
            except RuntimeError:
                self.stop()
                raise RuntimeError(f'nginx did not start: {self.error_log()}')
        return self

    def pids(self):
        out = subprocess.run(['pgrep', '-P', str(self.proc.pid)], capture_output=True, text=True).stdout
        return [self.proc.pid] + [int(x) for x in out.split()]

    def group(self):
        return ProcessGroup(self.pids())

    def error_log(self):
        try:
            with open(os.path.join(self.prefix, 'logs', 'error.log'), errors='replace') as f:
                return f.read()[-2000:]
        except OSError:
            return ''

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)


# ---- wrk --------------------------------------------------------------------

def wrk(url, connections, seconds, threads=2, script=None):
    """Runs wrk; returns {rps, p50_ms, p99_ms, errors, requests}."""
    cmd = ['wrk', f'-t{min(threads, connections)}', f'-c{connections}', f'-d{seconds}s', '--latency']
    if script:
        cmd += ['-s', script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, preexec_fn=raise_fd_limit,
                         timeout=seconds + 60).stdout
    rps = re.search(r'Requests/sec:\s+([\d.]+)', out)
    if not rps:
        raise RuntimeError(f'wrk gave no figures: {out[-800:]}')

    def pct(p):
        m = re.search(rf'^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$', out, re.M)
        if not m:
            return None
        v = float(m.group(1))
        return {'us': v / 1000, 'ms': v, 's': v * 1000}[m.group(2)]

    errors = 0
    m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    if m:
        errors += int(m.group(1))
    total = re.search(r'(\d+) requests in', out)
    return {'rps': float(rps.group(1)), 'p50_ms': pct(50), 'p99_ms': pct(99), 'errors': errors,
            'requests': int(total.group(1)) if total else None}


def measure_cpu(group, fn):
    """Runs fn() and returns (its result, CPU seconds the group used meanwhile)."""
    before = group.cpu()
    result = fn()
    return result, group.cpu() - before


def table(headers, rows):
    """A Markdown table."""
    out = ['| ' + ' | '.join(headers) + ' |', '|' + '---|' * len(headers)]
    out += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(out)


def alternating(names, rounds):
    """(round, name) for each name in each round, the order swapped every round, so
    neither server always runs first (on a warmer or cooler machine)."""
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            yield r, name


def median_run(runs, key):
    """A copy of the run with the median `key`, with every run's `key` under
    `key + '_runs'`."""
    row = dict(sorted(runs, key=lambda r: r[key])[len(runs) // 2])
    row[key + '_runs'] = [r[key] for r in runs]
    return row


def with_runs(value, runs, digits):
    """A median and, when there were several, each run's: '8,170 (8,170, 7,900, 8,300)'."""
    text = fmt(value, digits)
    return text + (' (' + ', '.join(fmt(r, digits) for r in runs) + ')' if len(runs) > 1 else '')


def ratio(a, b):
    return None if not a or not b else a / b


def fmt(v, digits=1):
    if v is None:
        return '–'
    if isinstance(v, float):
        return f'{v:,.{digits}f}'
    return f'{v:,}'
