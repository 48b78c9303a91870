#!/usr/bin/env python3
"""Where ingest's time goes: one server under N publishers and, over a steady
window, from the server's own processes:

  - its CPU per stream-minute (as the ingest bench measures it);
  - syscalls and context switches counted by `perf stat` (kernel tracepoints:
    cheap, unlike strace, which doubles the server's CPU), per second and per
    RTMP chunk received;
  - with --record FILE, a `perf record -g` profile (with --record-event EVENT,
    of that event instead of CPU time; read it with
    `perf report -i FILE --no-children --sort dso,symbol`).

  profile-ingest.py --server souk-live|nginx-rtmp [--publishers 50]
                    [--publisher ffmpeg|librtmp|tag|real-ffmpeg] [--window 20]
                    [--record FILE [--record-event EVENT]] [--build build/release] [--out build/bench]

Chunks per second come from the fixture: each audio and video tag is
ceil(size / chunk size) chunks at the client's chunk size (write_pattern.cpp:
ffmpeg 60000, librtmp 4096), over the file's length. Needs perf (Debian:
linux-perf) with perf_event_paranoid <= 1, or root.
"""
import argparse
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import common, ingest_bench  # noqa: E402

# The chunk size each client announces and uses (rtmp-load's write_pattern.cpp
# default_chunk_size; real ffmpeg 5.1 sends Set Chunk Size 60000).
CHUNK_SIZE = {'ffmpeg': 60000, 'real-ffmpeg': 60000, 'librtmp': 4096, 'tag': 4096}
SYSCALLS = ('recvfrom', 'read', 'epoll_wait', 'epoll_ctl', 'futex', 'write', 'writev', 'sendto',
            'sendmsg', 'openat', 'close', 'rename', 'renameat2', 'timerfd_settime', 'clock_nanosleep')
OTHER_EVENTS = ('context-switches', 'cpu-migrations')


def fixture_rates(path, chunk_size):
    """(messages per second, chunks per second) of one publisher of the FLV fixture."""
    with open(path, 'rb') as f:
        data = f.read()
    pos = struct.unpack('>I', data[5:9])[0] + 4  # past the header and PreviousTagSize0
    messages = chunks = 0
    video_ts = []
    while pos + 11 <= len(data):
        tag_type = data[pos] & 0x1f
        size = int.from_bytes(data[pos + 1:pos + 4], 'big')
        ts = int.from_bytes(data[pos + 4:pos + 7], 'big') | (data[pos + 7] << 24)
        if tag_type in (8, 9):
            messages += 1
            chunks += max(1, math.ceil(size / chunk_size))
            if tag_type == 9:
                video_ts.append(ts)
        pos += 11 + size + 4
    # One pass lasts the video's length: last timestamp plus a mean frame step (as rtmp-load loops it).
    step = (video_ts[-1] - video_ts[0]) / max(1, len(video_ts) - 1)
    seconds = (video_ts[-1] - video_ts[0] + step) / 1000
    return messages / seconds, chunks / seconds


def perf_stat(pids, seconds):
    """{event: count} over `seconds` for the processes (all their threads)."""
    events = [f'syscalls:sys_enter_{s}' for s in SYSCALLS] + list(OTHER_EVENTS)
    with tempfile.NamedTemporaryFile('r', suffix='.csv') as out:
        subprocess.run(['perf', 'stat', '-x', ',', '-e', ','.join(events), '-o', out.name,
                        '-p', ','.join(str(p) for p in pids), '--', 'sleep', str(seconds)],
                       check=True, stdout=subprocess.DEVNULL)
        counts = {}
        for line in out.read().splitlines():
            fields = line.split(',')
            if len(fields) < 3 or not fields[0].strip().isdigit():
                continue
            counts[fields[2].replace('syscalls:sys_enter_', '')] = int(fields[0])
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--server', choices=('souk-live', 'nginx-rtmp'), required=True)
    ap.add_argument('--publishers', type=int, default=50)
    ap.add_argument('--publisher', choices=tuple(CHUNK_SIZE), default='ffmpeg',
                    help='an rtmp-load write pattern, or real-ffmpeg (N ffmpeg processes)')
    ap.add_argument('--window', type=float, default=20)
    ap.add_argument('--record', help='also write a perf record -g profile of the window here')
    ap.add_argument('--record-event',
                    help='with --record: sample this event instead of CPU time, with DWARF call graphs '
                         '(e.g. syscalls:sys_enter_futex: who makes the futex calls)')
    ap.add_argument('--build', default=os.path.join(common.REPO, 'build', 'release'))
    ap.add_argument('--out', default=os.path.join(common.REPO, 'build', 'bench'))
    args = ap.parse_args()

    binary = os.path.join(args.build, 'app', 'souk-live')
    rtmp_load = os.path.join(args.build, 'tools', 'bench', 'rtmp-load')
    fixture = os.path.join(args.out, 'fixture-720p.flv')
    subprocess.run([os.path.join(common.BENCH_DIR, 'make-fixture.sh'), fixture], check=True)
    common.raise_fd_limit()
    n = args.publishers
    work = os.path.join(args.out, f'profile-{args.server}-{args.publisher}-{n}')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    if args.server == 'souk-live':
        proc, urls, _ = ingest_bench.start_souk(binary, n)
    else:
        proc, urls, _ = ingest_bench.start_nginx_rtmp(n, work)
    load = None
    try:
        urls_file = os.path.join(work, 'urls.txt')
        with open(urls_file, 'w') as f:
            f.write('\n'.join(urls) + '\n')
        if args.publisher == 'real-ffmpeg':
            load = ingest_bench.FfmpegPublishers(fixture, urls, work)
        else:
            load = ingest_bench.RtmpLoadPublishers(rtmp_load, fixture, args.publisher, urls_file, n, work)
        started = time.time()
        load.start()
        time.sleep(max(0.0, started + load.ramp + ingest_bench.WARMUP_S - time.time()))
        group = proc.group()
        recorder = None
        if args.record:
            what = (['-e', args.record_event, '--call-graph', 'dwarf,16384'] if args.record_event
                    else ['-F', '999', '-g'])
            recorder = subprocess.Popen(['perf', 'record', *what, '-o', args.record,
                                         '-p', ','.join(str(p) for p in group.pids)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu0, t0 = group.cpu(), time.time()
        counts = perf_stat(group.pids, args.window)
        cpu1, t1 = group.cpu(), time.time()
        if recorder:
            recorder.send_signal(subprocess.signal.SIGINT)
            recorder.wait()
    finally:
        if load:
            load.stop()
        proc.stop()

    seconds = t1 - t0
    messages_s, chunks_s = fixture_rates(fixture, CHUNK_SIZE[args.publisher])
    chunks = chunks_s * n * seconds
    print(f'{args.server}, {n} publishers ({args.publisher}), {seconds:.0f} s window: '
          f'{(cpu1 - cpu0) / (n * seconds / 60):.3f} CPU-s per stream-minute; '
          f'{messages_s:.1f} messages and {chunks_s:.1f} chunks a second per publisher')
    rows = [[name, common.fmt(count / seconds, 0), common.fmt(count / chunks, 2)]
            for name, count in counts.items() if count > 0]
    total = sum(c for name, c in counts.items() if name not in OTHER_EVENTS)
    rows.append(['all syscalls above', common.fmt(total / seconds, 0), common.fmt(total / chunks, 2)])
    print(common.table(['event', 'per second', 'per chunk received'], rows))


if __name__ == '__main__':
    main()
