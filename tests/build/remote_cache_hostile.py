#!/usr/bin/env python3
"""A remote cache that misbehaves, for tests/build/remote_cache.sh.

usage: remote_cache_hostile.py PORT STORE MODE
Serves GET /<prefix>/ac|cas/<name> from STORE/ac|cas/<name> (a store an
honest cache filled) and swallows PUTs, except where MODE says otherwise:
  putrickle   a PUT is answered 200 with a chunked body of 10 bytes a second,
              never ending
  trickle     a /cas GET sends 10 bytes a second, never ending
  endless     a /cas GET streams as fast as it can, never ending
  slowendless a /cas GET streams 32 KB a second (faster than mgd's stall
              floor), never ending: only the build's deadline stops it
  bigrec      an /ac GET is 64 KB of gzip unpacking to 16 MiB
  nocas       every /cas GET is 404 (the records name blobs not there)
  noblobs     every /ac GET is the record with its blob list emptied, a valid
              record (its checksum recomputed) whose payload still names the
              outputs: an entry mgd must not store locally as complete
Prints each request on stderr.
"""
import gzip
import hashlib
import http.server
import os
import sys
import time

PORT, STORE, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
BIG = gzip.compress(b"0" * (16 << 20)) if MODE == "bigrec" else b""


def without_blobs(record):
    """The record (toolchain/cache.c's format: "mgd-record 1 <sha256> <n>
    <len>\\n", n blob lines of 65 bytes, the payload) naming no blob, its
    checksum (over the blob list and the payload) made to match again."""
    header, rest = record.split(b"\n", 1)
    fields = header.split(b" ")
    n = int(fields[3])
    payload = rest[65 * n:]
    sha = hashlib.sha256(payload).hexdigest().encode()
    return b"mgd-record 1 %s 0 %d\n%s" % (sha, len(payload), payload)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))
        sys.stderr.flush()

    def chunks(self, size, pause):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * size
        while True:
            self.wfile.write(b"%x\r\n%s\r\n" % (size, chunk))
            self.wfile.flush()
            if pause:
                time.sleep(pause)

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if MODE == "putrickle":
            self.chunks(10, 1)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        kind, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
        if kind == "ac" and MODE == "bigrec":
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG)
            return
        if kind == "cas" and MODE == "trickle":
            self.chunks(10, 1)
        if kind == "cas" and MODE == "endless":
            self.chunks(65536, 0)
        if kind == "cas" and MODE == "slowendless":
            self.chunks(32768, 1)
        path = os.path.join(STORE, kind, os.path.basename(name))
        if (kind == "cas" and MODE == "nocas") or kind not in ("ac", "cas") or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        if kind == "ac" and MODE == "noblobs":
            body = without_blobs(body)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


Server(("127.0.0.1", PORT), Handler).serve_forever()
