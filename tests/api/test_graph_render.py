#!/usr/bin/env python3
"""GET /projects/:id/graph?format=svg: mgd's own drawing when Graphviz is not
there, and no thread left behind by drawings."""

import json
import os
import shutil
import socket
import tempfile
import threading
import time

import harness
from harness import ApiTest

R = {}


git = harness.git


setUpModule, tearDownModule = harness.project_module(R, "revkeys", "mgd-api-graph-render-")


class GraphRender(ApiTest):
    def test_graph_without_graphviz(self):
        """Without `dot` on PATH the SVG graph is drawn by mgd's own layout
        (and says so), not an error."""
        empty = tempfile.mkdtemp(prefix="mgd-api-nopath-")
        self.addCleanup(shutil.rmtree, empty, True)
        d = harness.Daemon()
        old = os.environ["PATH"]
        os.environ["PATH"] = empty
        try:
            d.start()
        finally:
            os.environ["PATH"] = old
        try:
            d.create_project(harness.hello_project("nodot"))
            r = d.get("/projects/nodot/graph?format=svg")
            self.assertStatus(r, 200)
            self.assertEqual(r.header("X-Graph-Renderer"), "mgd", r)
            self.assertIn("<svg", r.text)
            self.assertNotIn("graphviz", r.text)
            self.assertIn("main3", r.text)
        finally:
            d.finish()

    def test_graph_leaves_threads(self):
        """Drawings must never take the HTTP threads. With --threads 2 and
        a `dot` that takes 6 s, two graphs at once used to hold both
        threads, so /health waited 6 s; now they are drawn on the work
        pool (test_graph_pool.py) and /health answers at once. The
        drawing's temporary directory goes with it."""
        tmp = tempfile.mkdtemp(prefix="mgd-api-slowdot-")
        self.addCleanup(shutil.rmtree, tmp, True)
        bindir, tmpdir = os.path.join(tmp, "bin"), os.path.join(tmp, "tmp")
        os.makedirs(bindir)
        os.makedirs(tmpdir)
        with open(os.path.join(bindir, "dot"), "w") as f:
            f.write("#!/bin/sh\n/bin/sleep 6\necho 'slow dot: gave up' >&2\nexit 1\n")
        os.chmod(os.path.join(bindir, "dot"), 0o755)
        d = harness.Daemon(extra_args=["--threads", "2"])
        old = dict(os.environ)
        os.environ["PATH"] = bindir + os.pathsep + old["PATH"]
        os.environ["TMPDIR"] = tmpdir
        try:
            d.start()
        finally:
            os.environ.clear()
            os.environ.update(old)
        try:
            d.create_project(harness.hello_project("slowdot"))
            got = []

            def draw():
                got.append(d.get("/projects/slowdot/graph?format=svg", timeout=30))

            # one after the other, so that each finds a thread waiting for
            # connections (a thread that is drawing accepts none)
            drawers = [threading.Thread(target=draw) for _ in range(2)]
            for t in drawers:
                t.start()
                time.sleep(0.5)
            t0 = time.monotonic()
            r = d.get("/health", token=None, timeout=30)
            took = time.monotonic() - t0
            for t in drawers:
                t.join(30)
            self.assertStatus(r, 200)
            self.assertLess(took, 2, "GET /health took %.1f s while two graphs were drawn" % took)
            # both drawn on the work pool (this dot fails: 500)
            self.assertEqual(sorted(x.status for x in got), [500, 500], got)
            self.assertEqual(os.listdir(tmpdir), [])
        finally:
            d.finish()


if __name__ == "__main__":
    harness.main()
