#!/usr/bin/env python3
"""mgctl and answers of the right status but an unexpected shape or size
(from a small fake server): fields of the wrong type, a log over 4 MiB.

    test_mgctl_answers.py MGD MGCTL
"""

import json

import mgctl_harness as mh
from fake_server import NOT_FOUND, Fake, send, send_json
from mgctl_harness import harness


def setUpModule():
    harness.start_shared()


def tearDownModule():
    harness.stop_shared()


class WrongShapes(Fake):
    def test_status_with_keys_not_an_object(self):
        """A Build whose keys are an array (valid JSON, wrong shape) must
        not crash `status`: array members have no names. Numbers no
        integer holds are left out, not converted (undefined)."""
        def answer(h):
            if h.path == "/builds/1":
                send_json(h, {"id": 1, "status": "succeeded", "target": "unix",
                              "keys": ["a", 1, {"b": 2}], "reproduced_by": [1e300, 7],
                              "reproduces": [8, "x", 9], "log_size": -1e300})
            else:
                send(h, 404, NOT_FOUND)
        r = self.mgctl("status", "1", url=self.serve(answer))
        self.assertRegex(r.text, r"(?m)^status\s+succeeded$")
        self.assertRegex(r.text, r"(?m)^keys\s+-$")
        self.assertRegex(r.text, r"(?m)^reproduced by\s+7$")
        self.assertRegex(r.text, r"(?m)^reproduces\s+8, 9$")
        self.assertRegex(r.text, r"(?m)^log\s+0 B$")


class BigAnswers(Fake):
    def test_log_over_4_mib_is_whole(self):
        """`mgctl log B` prints the whole log, not its first 4 MiB with
        exit 0."""
        log = b"".join(b"line %07d of a long build log ..............................\n" % i
                       for i in range(90000))
        self.assertGreater(len(log), 5 << 20)

        def answer(h):
            if h.path.startswith("/builds/1/log"):
                send(h, 200, log, "text/plain; charset=utf-8",
                     [("X-Log-Size", str(len(log))), ("X-More-Data", "false")])
            else:
                send(h, 404, NOT_FOUND)
        url = self.serve(answer)
        r = self.mgctl("log", "1", url=url)
        self.assertEqual(len(r.out), len(log))
        self.assertEqual(r.out, log)
        j = self.json_of(self.mgctl("log", "1", "--json", url=url))
        self.assertEqual(j["log_size"], len(log))
        self.assertEqual(j["log"].encode(), log)


if __name__ == "__main__":
    mh.main()
