"""Does rtmp-load write what real encoders write? Each of its client patterns
against the real client, seen by strace on the publishing socket.

One souk-live (recording off) takes four publishers at once, each under
`strace -f`: a stock ffmpeg (`-re -stream_loop -1 -c copy -f flv`) and
`rtmp-load --pattern ffmpeg --count 1`; tools/rtmp-publish (librtmp's
RTMP_SendPacket with OBS's 4096-byte chunks) and `rtmp-load --pattern librtmp
--count 1`. Over the same steady window of each trace (after the publisher's
first write: WARMUP_S, then WINDOW_S) the socket's send calls (sendto, write,
writev, sendmsg on the fd that connected to the RTMP port) give calls a second,
mean bytes a call, the share of calls of at most 16 bytes (chunk headers sent
alone) and bursts a second (calls at least BURST_GAP_S after the previous one).
What reaches the server is counted too, in a second run of the same four
without strace: TCP data segments a second each client's socket sent over the
window (`ss -ti` data_segs_out), which Nagle's algorithm makes fewer than the
calls for ffmpeg. The generator passes a metric when it is
within 10 % of the real client's (for the share: 10 % of it, or one percentage
point when the real share is ~0).
"""
import collections
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from . import common, publishers

WARMUP_S = 4
WINDOW_S = 10
TOLERANCE = 0.10
SMALL = 16  # bytes: a chunk header (12, 8, 4 or 1) written on its own
BURST_GAP_S = 0.001
PATTERNS = ('ffmpeg', 'librtmp')

CALL = re.compile(r'^(\d+)\s+(\d+):(\d+):(\d+\.\d+) (sendto|write|writev|sendmsg|connect)\((\d+), (.*)$')
RESUMED = re.compile(r'^(\d+)\s+(\d+):(\d+):(\d+\.\d+) <\.\.\. (\w+) resumed>(.*)$')
RESULT = re.compile(r'\) = (-?\d+)')


def parse_trace(path, port):
    """[(seconds, bytes)] of the send calls on the socket that connected to `port`
    (a call that failed counts with 0 bytes)."""
    calls, pending, socket_fd = [], {}, None

    def finish(when, name, fd, rest):
        nonlocal socket_fd
        result = RESULT.search(rest)
        if name == 'connect':
            if f'htons({port})' in rest:
                socket_fd = fd
        elif fd == socket_fd and result:
            calls.append((when, max(0, int(result.group(1)))))

    with open(path, errors='replace') as f:
        for line in f:
            m = CALL.match(line)
            if m:
                pid, name, fd, rest = m.group(1), m.group(5), int(m.group(6)), m.group(7)
                when = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
                if rest.endswith('<unfinished ...>'):
                    pending[pid] = (when, name, fd, rest)
                else:
                    finish(when, name, fd, rest)
                continue
            m = RESUMED.match(line)
            if m and m.group(1) in pending:
                when, name, fd, rest = pending.pop(m.group(1))
                finish(when, name, fd, rest + m.group(6))
    return calls


def metrics(calls):
    """Calls/s, mean bytes a call, share of small calls and the small calls' sizes,
    over the steady window after the first write."""
    if not calls:
        return None
    start = calls[0][0] + WARMUP_S
    times = [when for when, _ in calls if start <= when < start + WINDOW_S]
    window = [size for when, size in calls if start <= when < start + WINDOW_S]
    if not window:
        return None
    small = [size for size in window if size <= SMALL]
    sizes = collections.Counter(small)
    bursts = 1 + sum(1 for a, b in zip(times, times[1:]) if b - a >= BURST_GAP_S)
    return {'calls_per_s': len(window) / WINDOW_S,
            'mean_bytes': sum(window) / len(window),
            'small_share': len(small) / len(window),
            'bursts_per_s': bursts / WINDOW_S,
            'small_sizes': {str(size): n / len(window) for size, n in sorted(sizes.items())}}


def data_segments(port):
    """{pid: data segments sent} of the established client sockets to `port`."""
    out = subprocess.run(['ss', '-tinpH', 'state', 'established', f'( dport = :{port} )'],
                         capture_output=True, text=True, check=True).stdout
    found = {}
    for block in re.split(r'\n(?=\S)', out):
        pid, segs = re.search(r'pid=(\d+)', block), re.search(r'data_segs_out:(\d+)', block)
        if pid and segs:
            found[int(pid.group(1))] = int(segs.group(1))
    return found


def verdicts(real, generator):
    """PASS/FAIL per metric: within TOLERANCE of the real client's figure."""
    def close(a, b, floor=0.0):
        return abs(b - a) <= max(TOLERANCE * abs(a), floor)
    return {'calls_per_s': close(real['calls_per_s'], generator['calls_per_s']),
            'mean_bytes': close(real['mean_bytes'], generator['mean_bytes']),
            'small_share': close(real['small_share'], generator['small_share'], floor=0.01),
            'bursts_per_s': close(real['bursts_per_s'], generator['bursts_per_s']),
            'segments_per_s': close(real['segments_per_s'], generator['segments_per_s'])}


def traced(cmd, trace_path, log):
    """`cmd` under strace (send calls and connect, wall-clock times) in its own
    process group, so the client itself gets the stop signal (strace blocks it)."""
    return subprocess.Popen(['nice', '-n', '10', 'strace', '-f', '--seccomp-bpf', '-tt', '-s', '1',
                             '-e', 'trace=sendto,write,writev,sendmsg,connect', '-o', trace_path, '--', *cmd],
                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)


def run(binary, rtmp_load, rtmp_publish, fixture, out, patterns=PATTERNS, keep=False):
    """One row per pattern: the real client's figures, the generator's, verdicts.
    The traces stay in a strace-compare-* directory under `out` with `keep` or
    when something failed."""
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix='strace-compare-', dir=out)
    failed = True
    souk = common.Souk(binary, ['--hls-segment-seconds', '2']).start()
    procs = []
    try:
        seller = common.register(souk.url)
        seconds = WARMUP_S + WINDOW_S + 3

        def start(traced_run):
            """Each pattern's real client and generator on streams of their own:
            [(pattern, who, program, trace or None, Popen)]."""
            runs = []
            for pattern in patterns:
                for who in ('real', 'generator'):
                    url = common.live_stream(souk.url, seller['token'], record=False)['publish_url']
                    if who == 'real':
                        cmd = publishers.real_client(pattern, fixture, url, rtmp_publish)
                    else:
                        urls = os.path.join(work, f'{pattern}-urls.txt')
                        with open(urls, 'w') as f:
                            f.write(url + '\n')
                        cmd = publishers.rtmp_load(rtmp_load, fixture, pattern, seconds + 5, urls, 1)
                    name = f'{pattern}-{who}' + ('' if traced_run else '-untraced')
                    log = open(os.path.join(work, name + '.log'), 'w')
                    trace = os.path.join(work, name + '.strace') if traced_run else None
                    procs.append(traced(cmd, trace, log) if traced_run else untraced(cmd, log))
                    runs.append((pattern, who, cmd[0], trace, procs[-1]))
            return runs

        # The send calls, under strace.
        traced_runs = start(True)
        time.sleep(seconds)
        stop(procs)
        # What reaches the server, without strace: its stop at every call lets each
        # write's ACK come back before the next, so Nagle would never hold one back.
        untraced_runs = start(False)
        time.sleep(WARMUP_S)
        before, t0 = data_segments(souk.rtmp_port), time.time()
        time.sleep(WINDOW_S)
        after, t1 = data_segments(souk.rtmp_port), time.time()
        stop(procs)

        rows = {}
        for (pattern, who, program, trace, _), (*_, proc) in zip(traced_runs, untraced_runs):
            row = rows.setdefault(pattern, {'pattern': pattern})
            figures = metrics(parse_trace(trace, souk.rtmp_port))
            if figures is None or proc.pid not in before or proc.pid not in after:
                raise RuntimeError(f'{pattern} {who} ({os.path.basename(program)}): no send calls on the '
                                   f'RTMP socket in the window, or no socket; see {work}')
            figures['segments_per_s'] = (after[proc.pid] - before[proc.pid]) / (t1 - t0)
            row[who] = figures
            if who == 'real':
                row['client'] = os.path.basename(program)
        for row in rows.values():
            row['pass'] = verdicts(row['real'], row['generator'])
        failed = False
        return list(rows.values())
    finally:
        stop(procs)
        souk.stop()
        if keep or failed:
            print(f'   strace-compare: traces in {work}', flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def untraced(cmd, log):
    """`cmd` niced (nice execs it: the Popen's pid owns the socket), in its own group."""
    return subprocess.Popen(['nice', '-n', '10', *cmd], stdout=subprocess.DEVNULL, stderr=log,
                            start_new_session=True)


def stop(procs):
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def render(rows):
    header = ['pattern', 'real client', 'send calls / s: real, rtmp-load', 'mean bytes / call: real, rtmp-load',
              f'calls ≤ {SMALL} B: real, rtmp-load', f'≤ {SMALL} B calls by size (real)',
              f'bursts / s (≥ {1000 * BURST_GAP_S:g} ms apart): real, rtmp-load',
              'TCP data segments / s: real, rtmp-load', 'within 10 %']
    lines = []
    for r in rows:
        real, gen, ok = r['real'], r['generator'], r['pass']
        sizes = ', '.join(f'{size} B {100 * share:.0f} %' for size, share in real['small_sizes'].items()) or '–'
        lines.append([r['pattern'], r['client'],
                      f"{common.fmt(real['calls_per_s'], 1)}, {common.fmt(gen['calls_per_s'], 1)}",
                      f"{common.fmt(real['mean_bytes'], 0)}, {common.fmt(gen['mean_bytes'], 0)}",
                      f"{100 * real['small_share']:.1f} %, {100 * gen['small_share']:.1f} %", sizes,
                      f"{common.fmt(real['bursts_per_s'], 1)}, {common.fmt(gen['bursts_per_s'], 1)}",
                      f"{common.fmt(real['segments_per_s'], 1)}, {common.fmt(gen['segments_per_s'], 1)}",
                      ', '.join(f"{name} {'PASS' if passed else 'FAIL'}" for name, passed in ok.items())])
    return common.table(header, lines)
