#!/usr/bin/env python3
"""Creates N live souk-live streams for the benchmark and prints their publish URLs.

Registers one seller, creates a product, creates N streams with that product and
puts each live (POST /streams/{id}/go-live); the publish URL is
{rtmpUrl}/{streamKey}, as OBS joins "Server" and "Stream Key". Standard library
only (urllib), no proxy.

  setup-streams.py --http http://127.0.0.1:8080 --count 100 \
      --urls urls.txt --json streams.json          # create
  setup-streams.py --http http://127.0.0.1:8080 --end streams.json   # end them all

--urls gets one publish URL a line (rtmp-load --urls), stdout without it;
--json gets {seller, token, streams: [{index, streamId, hlsUrl, publishUrl}]},
what the benchmark driver needs to find each stream's playlist and to end it.
The files hold stream keys: keep them out of logs.
"""
import argparse
import concurrent.futures
import json
import os
import secrets
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.common import ApiError, api as call  # noqa: E402  (one REST client for the bench)


def create_one(base, token, product_id, index, record):
    stream = call(base, 'POST', '/streams', {
        'title': f'bench stream {index}',
        'product_ids': [product_id],
        'notify_followers': False,
        'notify_neighborhood': False,
        'record_stream': record,
        'estimated_duration': 240,
    }, token)
    sid = stream['streamId']
    live = call(base, 'POST', f'/streams/{sid}/go-live',
                {'camera_ready': True, 'checklist_complete': True}, token)
    return {
        'index': index,
        'streamId': sid,
        'hlsUrl': live.get('hlsUrl'),
        'publishUrl': live['rtmpUrl'].rstrip('/') + '/' + live['streamKey'],
    }


def create(args):
    username = 'bench_' + secrets.token_hex(6)
    reg = call(args.http, 'POST', '/auth/register', {
        'username': username,
        'password': secrets.token_urlsafe(18),
        'role': 'seller',
        'display_name': 'Bench seller',
    })
    token = reg['token']
    product = call(args.http, 'POST', '/products',
                   {'title': 'Bench product', 'price_cents': 1000, 'currency': 'USD'}, token)
    streams = [None] * args.count
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = {pool.submit(create_one, args.http, token, product['id'], i, args.record): i
                   for i in range(args.count)}
        for f in concurrent.futures.as_completed(futures):
            streams[futures[f]] = f.result()
    text = ''.join(s['publishUrl'] + '\n' for s in streams)
    if args.urls:
        with open(args.urls, 'w') as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    if args.json:
        with open(args.json, 'w') as out:
            json.dump({'seller': username, 'token': token, 'streams': streams}, out, indent=1)
    print(f'setup-streams: {args.count} live streams for seller {username}', file=sys.stderr)


def end(args):
    with open(args.end) as f:
        state = json.load(f)
    token = state['token']
    failures = 0

    def end_one(s):
        call(args.http, 'POST', f"/streams/{s['streamId']}/end", {}, token)

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for s, f in [(s, pool.submit(end_one, s)) for s in state['streams']]:
            try:
                f.result()
            except ApiError as e:
                failures += 1
                print(f"setup-streams: stream {s['index']}: {e}", file=sys.stderr)
    print(f"setup-streams: ended {len(state['streams']) - failures} streams", file=sys.stderr)
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--http', required=True, help='base URL of souk-live, e.g. http://127.0.0.1:8080')
    p.add_argument('--count', type=int, default=1, help='streams to create (default 1)')
    p.add_argument('--urls', help='write the publish URLs here (default: stdout)')
    p.add_argument('--json', help='write stream ids, HLS URLs, publish URLs and the token here')
    p.add_argument('--no-record', dest='record', action='store_false',
                   help='create the streams with record_stream false (no VOD recording)')
    p.add_argument('--parallel', type=int, default=4, help='requests in flight (default 4)')
    p.add_argument('--end', metavar='JSON', help='end every stream listed in a --json file')
    args = p.parse_args()
    try:
        if args.end:
            return end(args)
        if args.count < 1:
            p.error('--count must be at least 1')
        create(args)
        return 0
    except ApiError as e:
        print(f'setup-streams: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
