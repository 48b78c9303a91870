#!/usr/bin/env python3
"""rtmp-load's write patterns against the real clients they stand for, by strace
(see lib/strace_compare.py); `bench.py --only strace` runs the same.

  strace-compare.py [--build build/release] [--out build/bench] [--patterns ffmpeg,librtmp] [--keep]

Exit status 1 when a metric is off by more than 10 %.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import common, strace_compare  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=os.path.join(common.REPO, 'build', 'release'))
    ap.add_argument('--out', default=os.path.join(common.REPO, 'build', 'bench'))
    ap.add_argument('--patterns', default=','.join(strace_compare.PATTERNS))
    ap.add_argument('--keep', action='store_true', help='keep the traces (a directory under --out)')
    args = ap.parse_args()
    fixture = os.path.join(args.out, 'fixture-720p.flv')
    subprocess.run([os.path.join(common.BENCH_DIR, 'make-fixture.sh'), fixture], check=True)
    rows = strace_compare.run(os.path.join(args.build, 'app', 'souk-live'),
                              os.path.join(args.build, 'tools', 'bench', 'rtmp-load'),
                              os.path.join(args.build, 'tools', 'rtmp-publish'), fixture, args.out,
                              patterns=[p for p in args.patterns.split(',') if p], keep=args.keep)
    print(strace_compare.render(rows))
    return 0 if all(all(r['pass'].values()) for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
