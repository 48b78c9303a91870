#!/usr/bin/env python3
"""Real RTMP publishers' bytes for the fuzz corpora (tests/fuzz/README.md).

`record`: a tiny RTMP server: it answers the handshake (simple: S2 echoes C1), connect,
releaseStream, FCPublish, createStream and publish (with NetStream.Publish.Start,
whatever the key) so the client goes on to metadata and media, and writes the
client's bytes, from C0 on, to --out until --limit bytes, then closes. One
connection, then it exits.

  tools/fuzz/rtmp_capture.py record --port 19350 --out /tmp/ffmpeg.bin &  # wait for "listening"
  ffmpeg -re -f lavfi -i testsrc2=size=320x180:rate=15 -f lavfi -i sine \\
      -t 3 -c:v libx264 -c:a aac -f flv rtmp://127.0.0.1:19350/live/good-key

`split`: cuts a recording into seeds for each RTMP fuzz target's input format:
rtmp_session (the first --session-limit bytes, as sent, and behind a PROXY v1
header), handshake (C0+C1, and with the byte that asks the target to sign C1),
chunk_stream (a control byte, then the bytes after C2), amf0 (each command and
data message's payload) and flv (the first audio and video tag bodies of each
kind: sequence headers, key and inter frames).

  tools/fuzz/rtmp_capture.py split /tmp/ffmpeg.bin --name ffmpeg --corpus tests/fuzz/corpus
"""
import argparse
import os
import socket
import struct


def amf_encode(v):
    if v is None:
        return b"\x05"
    if isinstance(v, bool):
        return b"\x01" + bytes([int(v)])
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack(">d", float(v))
    if isinstance(v, str):
        b = v.encode()
        return b"\x02" + struct.pack(">H", len(b)) + b
    if isinstance(v, dict):
        out = b"\x03"
        for k, x in v.items():
            kb = k.encode()
            out += struct.pack(">H", len(kb)) + kb + amf_encode(x)
        return out + b"\x00\x00\x09"
    raise TypeError(v)


def amf_decode_head(b):
    """The command name and transaction id at the start of an AMF0 command."""
    if len(b) < 3 or b[0] != 2:
        return None, 0.0
    n = struct.unpack(">H", b[1:3])[0]
    name = b[3:3 + n].decode(errors="replace")
    rest = b[3 + n:]
    tid = struct.unpack(">d", rest[1:9])[0] if len(rest) >= 9 and rest[0] == 0 else 0.0
    return name, tid


def chunk(csid, msg_type, stream_id, payload, size=128):
    out = bytes([csid]) + b"\x00\x00\x00" + struct.pack(">I", len(payload))[1:] + bytes([msg_type])
    out += struct.pack("<I", stream_id)
    for i in range(0, max(len(payload), 1), size):
        if i:
            out += bytes([0xC0 | csid])
        out += payload[i:i + size]
    return out


class ChunkReader:
    """Enough of RTMP 5.3 to find the client's commands."""

    def __init__(self):
        self.buf = b""
        self.size = 128
        self.streams = {}

    def feed(self, data):
        self.buf += data
        messages = []
        while True:
            m = self._one()
            if m is None:
                return messages
            if m:
                messages.append(m)

    def _one(self):
        b = self.buf
        if not b:
            return None
        fmt, csid, n = b[0] >> 6, b[0] & 0x3F, 1
        if csid == 0:
            if len(b) < 2:
                return None
            csid, n = 64 + b[1], 2
        elif csid == 1:
            if len(b) < 3:
                return None
            csid, n = 64 + b[1] + 256 * b[2], 3
        st = self.streams.setdefault(csid, {"len": 0, "type": 0, "sid": 0, "data": b"", "ext": False})
        hl = (11, 7, 3, 0)[fmt]
        if len(b) < n + hl:
            return None
        h = b[n:n + hl]
        n += hl
        ext = h[:3] == b"\xff\xff\xff" if fmt <= 2 else st["ext"]
        if ext:
            if len(b) < n + 4:
                return None
            n += 4
        if fmt <= 1:
            st["len"], st["type"] = int.from_bytes(h[3:6], "big"), h[6]
        if fmt == 0:
            st["sid"] = int.from_bytes(h[7:11], "little")
        st["ext"] = ext
        take = min(self.size, st["len"] - len(st["data"]))
        if len(b) < n + take:
            return None
        st["data"] += b[n:n + take]
        self.buf = b[n + take:]
        if len(st["data"]) < st["len"]:
            return {}
        msg = (st["type"], st["sid"], st["data"])
        st["data"] = b""
        if msg[0] == 1 and len(msg[2]) >= 4:
            self.size = struct.unpack(">I", msg[2][:4])[0] & 0x7FFFFFFF
        return msg


def serve(conn, recorded, limit):
    def recv(n):
        data = conn.recv(n)
        if data and len(recorded) < limit:
            recorded.extend(data[: limit - len(recorded)])
        return data

    hs = b""
    while len(hs) < 1537:
        d = recv(1537 - len(hs))
        if not d:
            return
        hs += d
    conn.sendall(b"\x03" + bytes(1536) + hs[1:])
    c2 = b""
    while len(c2) < 1536:
        d = recv(1536 - len(c2))
        if not d:
            return
        c2 += d
    reader = ChunkReader()
    while len(recorded) < limit:
        data = recv(65536)
        if not data:
            break
        for msg_type, stream_id, payload in reader.feed(data):
            if msg_type == 17 and payload[:1] == b"\x00":
                payload, msg_type = payload[1:], 20
            if msg_type != 20:
                continue
            name, tid = amf_decode_head(payload)
            if name == "connect":
                conn.sendall(chunk(2, 5, 0, struct.pack(">I", 2500000)))
                conn.sendall(chunk(3, 20, 0, amf_encode("_result") + amf_encode(tid) +
                                   amf_encode({"fmsVer": "FMS/3,0,1,123", "capabilities": 31}) +
                                   amf_encode({"level": "status", "code": "NetConnection.Connect.Success",
                                               "description": "Connection succeeded.", "objectEncoding": 0})))
            elif name == "createStream":
                conn.sendall(chunk(3, 20, 0, amf_encode("_result") + amf_encode(tid) + amf_encode(None) +
                                   amf_encode(1)))
            elif name in ("releaseStream", "FCPublish"):
                conn.sendall(chunk(3, 20, 0, amf_encode("_result") + amf_encode(tid) + amf_encode(None)))
            elif name == "publish":
                conn.sendall(chunk(5, 20, 1, amf_encode("onStatus") + amf_encode(0) + amf_encode(None) +
                                   amf_encode({"level": "status", "code": "NetStream.Publish.Start",
                                               "description": "Publishing started."})))


def write_seed(corpus, target, name, data):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    path = os.path.join(corpus, target, name)
    with open(path, "wb") as f:
        f.write(data)
    print(f"{path}: {len(data)} bytes")


def split(args):
    with open(args.recording, "rb") as f:
        data = f.read()
    if len(data) < 3073 or data[0] != 3:
        raise SystemExit(f"{args.recording}: not an RTMP client recording")
    session = data[: args.session_limit]
    write_seed(args.corpus, "rtmp_session", args.name, session)
    write_seed(args.corpus, "rtmp_session", args.name + "-proxied",
               b"PROXY TCP4 203.0.113.7 127.0.0.1 51234 1935\r\n" + session)
    write_seed(args.corpus, "handshake", args.name, data[:1537])
    write_seed(args.corpus, "handshake", args.name + "-signed", data[:1537] + b"\x01")
    after_c2 = data[3073:]
    write_seed(args.corpus, "chunk_stream", args.name, b"\x3f" + after_c2[: args.chunk_limit])
    write_seed(args.corpus, "chunk_stream", args.name + "-small-reads", b"\x00" + after_c2[:4096])
    reader = ChunkReader()
    amf = 0
    kinds = {}
    for msg_type, _, payload in reader.feed(after_c2):
        if msg_type in (18, 20) and amf < 12:
            write_seed(args.corpus, "amf0", f"{args.name}-{amf:02d}", payload)
            amf += 1
        elif msg_type in (8, 9) and payload:
            # One of each kind of tag: codec, packet type (sequence header or not), frame type.
            key = (msg_type, payload[0], payload[1] if len(payload) > 1 else None)
            if key not in kinds and len(kinds) < 8:
                kinds[key] = payload
                write_seed(args.corpus, "flv", f"{args.name}-{len(kinds):02d}", payload[:2048])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--limit", type=int, default=200 * 1024, help="bytes to record (default 200 KiB)")
    s = sub.add_parser("split")
    s.add_argument("recording")
    s.add_argument("--name", required=True)
    s.add_argument("--corpus", required=True)
    s.add_argument("--session-limit", type=int, default=32 * 1024)
    s.add_argument("--chunk-limit", type=int, default=32 * 1024)
    args = p.parse_args()
    if args.command == "split":
        return split(args)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(1)
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    conn, _ = srv.accept()
    conn.settimeout(30)
    recorded = bytearray()
    try:
        serve(conn, recorded, args.limit)
    except (socket.timeout, ConnectionError):
        pass  # what came so far is the capture
    finally:
        conn.close()
    with open(args.out, "wb") as f:
        f.write(recorded)
    print(f"{args.out}: {len(recorded)} bytes")


if __name__ == "__main__":
    main()
