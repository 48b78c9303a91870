#!/usr/bin/env python3
"""`make bench`: Souk Live side by side with the servers users would pick instead,
on this machine, in one run. Each figure is measured for Souk Live and its
reference in the same run, alternating, and printed with the ratio.

  bench.py [--only strace,ingest,egress,chat,api,soak] [--build build/release] [--out build/bench]
           [--ingest-publishers 1,50,200,500] [--ingest-patterns ffmpeg,librtmp] [--ingest-rounds 3]
           [--ingest-check-publishers 40] [--egress-rounds 5]

`strace` first checks that rtmp-load writes what the real clients write (calls
a second, bytes a call, small calls, within 10 %), which the ingest rows rely on.

Results: <out>/results.json (every row) and <out>/results.md (the tables).
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import common, http_bench, ingest_bench, strace_compare  # noqa: E402

SECTIONS = ('strace', 'ingest', 'egress', 'chat', 'api')


def machine():
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), '')
    except OSError:
        pass
    with open('/proc/meminfo') as f:
        mem_kb = int(f.readline().split()[1])
    return {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'cpu': cpu, 'cores': os.cpu_count(), 'memory_gb': round(mem_kb / 1024 / 1024, 1),
            'kernel': platform.release()}


def egress_table(rows):
    lines = []
    keyed = {(r['target'], r['connections'], r['server']): r for r in rows}
    for (target, conns, server), r in keyed.items():
        if server != 'souk-live':
            continue
        ref = keyed.get((target, conns, 'nginx'), {})
        lines.append([target, conns, common.with_runs(r['rps'], r.get('rps_runs', []), 0),
                      common.with_runs(ref.get('rps'), ref.get('rps_runs', []), 0),
                      common.fmt(common.ratio(r['rps'], ref.get('rps')), 2),
                      common.fmt(r['p99_ms']), common.fmt(ref.get('p99_ms')),
                      cpu_per_request(r), cpu_per_request(ref), r['errors'] + ref.get('errors', 0)])
    return common.table(['file', 'connections', 'souk req/s: median (runs)', 'nginx req/s: median (runs)', 'ratio',
                         'souk p99 ms', 'nginx p99 ms', 'souk CPU % (µs / req)', 'nginx CPU % (µs / req)', 'errors'],
                        lines)


def cpu_per_request(row):
    """The server's CPU share and its CPU time per request: wrk takes the other
    core, so req/s moves with the scheduler while the time a request costs moves less."""
    if not row.get('rps'):
        return '-'
    return f"{row['cpu_percent']:.0f} ({1e4 * row['cpu_percent'] / row['rps']:.1f})"


def api_table(rows):
    return common.table(['endpoint', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'server CPU %', 'errors'],
                 [[r['endpoint'], r['connections'], common.fmt(r['rps'], 0), common.fmt(r['p50_ms']),
                   common.fmt(r['p99_ms']), common.fmt(r['cpu_percent'], 0), r['errors']] for r in rows])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', default=','.join(SECTIONS), help='comma-separated sections (default: all but soak)')
    ap.add_argument('--build', default=os.path.join(common.REPO, 'build', 'release'))
    ap.add_argument('--out', default=os.path.join(common.REPO, 'build', 'bench'))
    ap.add_argument('--seconds', type=int, default=10, help='length of each wrk run')
    ap.add_argument('--ingest-publishers', default=','.join(str(n) for n in ingest_bench.COUNTS),
                    help='comma-separated publisher counts for the ingest section')
    ap.add_argument('--ingest-patterns', default=','.join(ingest_bench.PATTERNS),
                    help='comma-separated rtmp-load write patterns for the ingest rows (ffmpeg, librtmp, tag)')
    ap.add_argument('--ingest-rounds', type=int, default=ingest_bench.ROUNDS,
                    help='ingest runs per server and N, alternating; rows give the median')
    ap.add_argument('--ingest-check-publishers', type=int, default=ingest_bench.CHECK_PUBLISHERS,
                    help='real ffmpeg processes for the check on the generator (0: no check)')
    ap.add_argument('--egress-rounds', type=int, default=http_bench.EGRESS_ROUNDS,
                    help='wrk runs per server and egress row, alternating (median reported)')
    ap.add_argument('--soak-minutes', type=float, default=30)
    args = ap.parse_args()
    only = [s for s in args.only.split(',') if s]
    os.makedirs(args.out, exist_ok=True)

    binary = os.path.join(args.build, 'app', 'souk-live')
    rtmp_publish = os.path.join(args.build, 'tools', 'rtmp-publish')
    rtmp_load = os.path.join(args.build, 'tools', 'bench', 'rtmp-load')
    fixture = os.path.join(args.out, 'fixture-720p.flv')
    subprocess.run([os.path.join(common.BENCH_DIR, 'make-fixture.sh'), fixture], check=True)

    results = {'machine': machine()}
    report = [f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
              f"{results['machine']['memory_gb']} GB, kernel {results['machine']['kernel']}; "
              f"{results['machine']['date']}"]

    def section(name, title, run, render):
        if name not in only:
            return
        print(f'== {title}', flush=True)
        rows = run()
        results[name] = rows
        text = f'## {title}\n\n{render(rows)}\n'
        print(text, flush=True)
        report.append(text)

    section('strace', 'rtmp-load against the real clients (strace of the publishing socket)',
            lambda: strace_compare.run(binary, rtmp_load, rtmp_publish, fixture, args.out), strace_compare.render)
    if 'ingest' in only:
        section('ingest', 'Ingest: publishers, CPU, memory, segment availability',
                lambda: ingest_bench.run(binary, rtmp_load, fixture, args.out,
                                         counts=[int(n) for n in args.ingest_publishers.split(',') if n],
                                         rounds=args.ingest_rounds,
                                         patterns=[p for p in args.ingest_patterns.split(',') if p],
                                         check_publishers=args.ingest_check_publishers),
                ingest_bench.render)
    section('egress', 'HLS egress (wrk)',
            lambda: http_bench.egress(binary, fixture, rtmp_publish, args.seconds, rounds=args.egress_rounds),
            egress_table)
    if 'chat' in only:
        from lib import chat_bench
        section('chat', 'Chat fan-out', lambda: chat_bench.run(binary, args.out), chat_bench.render)
    section('api', 'API (wrk)', lambda: http_bench.api(binary, args.seconds), api_table)
    if 'soak' in only:
        from lib import soak
        section('soak', f'Soak ({args.soak_minutes:g} minutes)',
                lambda: soak.run(binary, rtmp_load, fixture, args.out, args.soak_minutes), soak.render)

    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(args.out, 'results.md'), 'w') as f:
        f.write('\n\n'.join(report) + '\n')
    print(f'results: {args.out}/results.json, {args.out}/results.md')


if __name__ == '__main__':
    main()
