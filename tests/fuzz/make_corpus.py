#!/usr/bin/env python3
"""Writes the starting seeds of the libFuzzer targets into corpus/<target>/
(seed-*: run again to rewrite them; regression inputs found by fuzzing
are kept beside them as regress-*, never rewritten). Seeds are small,
valid inputs of each format, so the fuzzer starts from the shapes real
clients, images and archives have.

    python3 tests/fuzz/make_corpus.py
"""

import io
import os
import struct
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- image: a 64-bit little-endian ELF with PT_NOTE segments

def note(name, ntype, desc, descsz=None):
    n = name + b"\0"
    hdr = struct.pack("<III", len(n), len(desc) if descsz is None else descsz, ntype)
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return hdr + pad(n) + pad(desc)


def elf(segments):
    """segments: list of (p_type, bytes)."""
    ehsize, phsize = 64, 56
    off = ehsize + phsize * len(segments)
    phdrs, blobs = b"", b""
    for ptype, data in segments:
        phdrs += struct.pack("<IIQQQQQQ", ptype, 4, off, 0, 0, len(data), len(data), 4)
        blobs += data
        off += len(data)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, ehsize, 0, 0, ehsize, phsize,
                             len(segments), 64, 0, 0)
    return eh + phdrs + blobs


TEXT = (b"mgd-image 1\nname hello\ntarget unix\narch x86_64\nabi 1\n"
        b"device block disk\ndevice net service\n\0")
MGD = note(b"MGD", 0x4D47, TEXT)
put("image", "valid", elf([(4, MGD)]))
put("image", "after-gnu-note", elf([(1, b"\0" * 16), (4, note(b"GNU", 3, b"\1\2\3\4") + MGD)]))
put("image", "second-segment", elf([(4, note(b"GNU", 1, b"abcd")), (4, MGD)]))
put("image", "no-devices",
    elf([(4, note(b"MGD", 0x4D47, b"mgd-image 1\nname x\ntarget spt\narch aarch64\nabi 1\n\0"))]))
put("image", "later-version",
    elf([(4, note(b"MGD", 0x4D47, TEXT[:-1] + b"colour blue\n\0"))]))
# the planted-bug case of tests/toolchain/test_image.c: a descriptor that
# says it runs past its segment
put("image", "desc-past-segment", elf([(4, note(b"MGD", 0x4D47, TEXT, len(TEXT) + 8))]))
put("image", "not-elf", b"#!/bin/sh\necho not an image\n")

# ---- tar: archives as tar(1) and Python write them


def tar(fmt, members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, data in members:
            if data is None:
                ti = tarfile.TarInfo(name)
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif isinstance(data, tuple):
                ti = tarfile.TarInfo(name)
                ti.type = tarfile.SYMTYPE
                ti.linkname = data[0]
                t.addfile(ti)
            else:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mtime = 0
                t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


FILES = [("a.txt", b"hello\n"), ("sub/", None), ("sub/b.txt", b"line one\nline two\n"),
         ("empty", b""), ("sub/c/d", b"x" * 700)]
put("tar", "ustar", tar(tarfile.USTAR_FORMAT, FILES))
put("tar", "gnu-long-name", tar(tarfile.GNU_FORMAT, [("d/" + "n" * 150, b"long"), ("a", b"1")]))
put("tar", "pax", tar(tarfile.PAX_FORMAT, [("p/" + "q" * 120, b"pax path"), ("\u00e9t\u00e9", b"utf8")]))
put("tar", "duplicate-and-link",
    tar(tarfile.USTAR_FORMAT, [("a", b"old"), ("a", b"new"), ("l", ("a",)), ("./x/y", b"y")]))
put("tar", "file-then-dir", tar(tarfile.USTAR_FORMAT, [("a", b"file"), ("a/b", b"under a file")]))

# ---- crunch: [mode][path len][path][data len, 2 bytes LE][data]...


def crunch(mode, files):
    out = bytes([mode])
    for path, data in files:
        out += bytes([len(path)]) + path + struct.pack("<H", len(data)) + data
    return out


SORTED = [(b"a.txt", b"hello\n"), (b"b/c", b"\0\1\2?\"\\"), (b"b/d", b""), (b"z", b"z" * 70)]
put("crunch", "table-sorted", crunch(0, SORTED))
put("crunch", "table-unsorted", crunch(0, list(reversed(SORTED))))
put("crunch", "table-file-and-dir", crunch(0, [(b"a", b"1"), (b"a.b", b"2"), (b"a/b", b"3")]))
put("crunch", "table-bad-paths", crunch(0, [(b"/a", b"1"), (b"a//b", b"2"), (b"../c", b"3")]))
put("crunch", "tree", crunch(1, SORTED + [(b"\n?\x7f\xff", b"odd name")]))
put("crunch", "tree-conflicts", crunch(1, [(b"a", b"1"), (b"a/b", b"2"), (b"a", b"dup")]))

# ---- sse: [n][n piece sizes][stream]
put("sse", "log", b"\0id: 6\ndata: line\n\nid: 12\ndata: more\n\nevent: end\ndata: {}\n\n")
put("sse", "crlf-pieces", b"\3\1\2\5: comment\r\nid: 3\r\ndata: a\r\ndata: b\r\n\r\nretry: 5\r\r")
put("sse", "no-space", b"\0data:x\nid:1\n\nevent:end\ndata\n\n")
put("sse", "nul-id", b"\1\4id: 1\0\ndata: z\n\nid\n\n")

# ---- http: [token: 0 none, 1 read, 2 write, 3 admin]"METHOD TARGET\nheaders\n\nbody"
CONFIG = ('{"mgd": 1, "name": "hello", "devices": {"main": {"main": "app_start", '
          '"type": "console -> job", "sources": ["unikernel.c"]}}, '
          '"jobs": [{"apply": "main", "to": ["default_console"]}]}')
SOURCES = '{"unikernel.c": "int app_start(void *c) { return 0; }\\n"}'
HTTP = {
    "health": (0, "GET /health", ""),
    "create": (2, "POST /projects", '{"name": "hello2", "config": %s, "sources": %s}' % (CONFIG, SOURCES)),
    "create-git": (2, "POST /projects",
                   '{"name": "gitp", "config": %s, "repo": {"url": "https://example.invalid/r.git", "ref": "main"}}' % CONFIG),
    "patch": (2, "PATCH /projects/hello", '{"repo": {"url": "https://example.invalid/x.git"}}'),
    "config-put": (2, "PUT /projects/hello/config", CONFIG),
    "check": (1, "POST /projects/hello/check?target=unix&arch=x86_64", CONFIG),
    "build": (2, "POST /projects/hello/build", '{"target": "unix", "keys": {"a": "1"}}'),
    "builds": (1, "GET /builds?status=queued&page=2&per_page=5&project=hello", ""),
    "latest": (1, "GET /projects/hello/builds/latest?target=unix", ""),
    "build-1": (1, "GET /builds/1", ""),
    "log": (1, "GET /builds/1/log?offset=0", ""),
    "log-stream": (1, "GET /builds/1/log\nAccept: text/event-stream\nLast-Event-ID: 3", ""),
    "image-range": (1, "GET /builds/1/image\nRange: bytes=0-10\nIf-None-Match: \"x\"", ""),
    "cancel": (2, "POST /builds/1/cancel", ""),
    "rebuild": (2, "POST /builds/1/rebuild", '{}'),
    "tokens": (3, "POST /tokens", '{"name": "ci", "scope": "write"}'),
    "token-delete": (3, "DELETE /tokens/4", ""),
    "versions": (1, "GET /projects/hello/config/versions?page=1", ""),
    "graph": (1, "GET /projects/hello/graph?target=unix&format=dot", ""),
    "hash": (1, "GET /hash?sha256=00", ""),
    "devices": (1, "GET /devices", ""),
    "escaped": (1, "GET /projects/%68ello%2Fx?q=%00", ""),
    "zz-delete": (3, "DELETE /projects/hello", ""),  # last in replay order
    "head": (1, "HEAD /builds/1/log", ""),
    "wrong-type": (2, "POST /projects\nContent-Type: text/plain", '{"name": 1}'),
}
for name, (tok, head, body) in HTTP.items():
    put("http", name, bytes([tok]) + (head + "\n\n" + body).encode())
