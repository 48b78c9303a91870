"""Chat fan-out: tools/bench/chat/chat-bench.mjs (Node: the load generator and the
socket.io reference server live there) run from the bench, its JSON kept."""
import json
import os
import subprocess

from . import common

CHAT_DIR = os.path.join(common.BENCH_DIR, 'chat')


def run(binary, out):
    # Absolute paths: chat-bench.mjs runs in its own directory.
    results = os.path.abspath(os.path.join(out, 'chat-results.json'))
    subprocess.run(['node', 'chat-bench.mjs', '--souk', os.path.abspath(binary), '--out', results], cwd=CHAT_DIR, check=True,
                   preexec_fn=common.raise_fd_limit)
    with open(results) as f:
        return json.load(f)


def render(data):
    return data['markdown']
