#!/usr/bin/env python3
"""Compares server builds on ingest CPU: each build (and nginx-rtmp) under the same
load, alternating, the order reversed each round, as the ingest bench runs its
servers. For measuring one change: build the commit before it in a worktree and
give both binaries.

  ab-ingest.py [--rounds 3] [--publishers 50] [--publisher ffmpeg|librtmp|tag|real-ffmpeg]
               LABEL=path/to/souk-live [LABEL=...]

Prints each run, then per build the median CPU-s per stream-minute, every run,
and the ratio to nginx-rtmp's median.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import common, ingest_bench  # noqa: E402

NGINX = 'nginx-rtmp'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('builds', nargs='+', help='LABEL=path to a souk-live binary')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--publishers', type=int, default=50)
    ap.add_argument('--publisher', default='ffmpeg', choices=('ffmpeg', 'librtmp', 'tag', 'real-ffmpeg'))
    ap.add_argument('--build', default=os.path.join(common.REPO, 'build', 'release'),
                    help='where rtmp-load is (tools/bench/rtmp-load under it)')
    ap.add_argument('--out', default=os.path.join(common.REPO, 'build', 'bench'))
    args = ap.parse_args()
    builds = dict(b.split('=', 1) for b in args.builds)
    rtmp_load = os.path.join(args.build, 'tools', 'bench', 'rtmp-load')
    fixture = os.path.join(args.out, 'fixture-720p.flv')
    subprocess.run([os.path.join(common.BENCH_DIR, 'make-fixture.sh'), fixture], check=True)
    common.raise_fd_limit()
    real = args.publisher == 'real-ffmpeg'
    pattern = 'ffmpeg' if real else args.publisher
    n = args.publishers
    setups = list(builds) + [NGINX]
    runs = {s: [] for s in setups}
    for r, s in common.alternating(setups, args.rounds):
        server = NGINX if s == NGINX else 'souk-live'
        row = ingest_bench.one(server, n, builds.get(s), rtmp_load, fixture, args.out, pattern, False, real)
        runs[s].append(row)
        print(f'round {r + 1}, {s}: {row["cpu_s_per_stream_min"]:.4f} CPU-s / stream-min, '
              f'{row["advancing"]}/{n} playlists advancing, {row["dropped"] or 0} dropped', flush=True)

    key = 'cpu_s_per_stream_min'
    medians = {s: common.median_run(runs[s], key) for s in setups}
    reference = medians[NGINX][key]
    print(common.table(['server', 'CPU-s / stream-min: median (runs)', 'ratio to nginx-rtmp'],
                       [[s, common.with_runs(m[key], m[key + '_runs'], 3), common.fmt(m[key] / reference, 2)]
                        for s, m in medians.items()]))

if __name__ == '__main__':
    main()
