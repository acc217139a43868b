#!/usr/bin/env python3
"""Config files mgctl sends: text after the JSON document is an error that
names the file, before anything is sent.

    test_mgctl_config_files.py MGD MGCTL
"""

import json
import os
import shutil
import tempfile

import mgctl_harness as mh
from mgctl_harness import harness


def setUpModule():
    harness.start_shared()


def tearDownModule():
    harness.stop_shared()


class ConfigFiles(mh.MgctlTest):
    def test_text_after_the_document(self):
        """A config file with text after its JSON object is not JSON: an
        error naming the file, before anything is sent (it used to be
        spliced into the request body as it was)."""
        body = harness.hello_project("rv-trailing")
        d = tempfile.mkdtemp(prefix="mgctl-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        for name, text in body["sources"].items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        cfg = os.path.join(d, "config.json")
        with open(cfg, "w") as f:
            f.write(json.dumps(body["config"]) + "\n}\n")
        r = self.mgctl("project", "create", "rv-trailing", "--sources", d, want=2)
        self.assertIn("%s is not JSON" % cfg, r.errtext)
        self.assertEqual(self.d.get("/projects/rv-trailing").status, 404)
        self.d.create_project(body)
        r = self.mgctl("config", "push", "rv-trailing", cfg, want=2)
        self.assertIn("%s is not JSON" % cfg, r.errtext)


if __name__ == "__main__":
    mh.main()
