#!/usr/bin/env python3
"""Cross-builds through the daemon (issue 17): GET /targets lists every
arch of every target, the unix cross arches available (with the cross
compilers installed), virtio's too on the arches it boots on (aarch64,
riscv64),
and spt's aarch64 and riscv64 (and virtio's other arches) as not
supported, with why; a build asking for one of those is refused with that
reason; and a burst of builds over three arches and three targets (unix
and virtio on x86_64, aarch64 and riscv64, spt on x86_64), two projects each,
all queued at once on a daemon with an empty cache, shares the runtime:
each runtime action (the runtime's compiles and its archive) runs once per
(target, arch), in one build, and the others take it from the cache or
wait for it. Every build succeeds and its image is for its arch."""

import re
import threading

import harness
from harness import ApiTest

# the ELF machine of an image per arch (e_machine, bytes 18-19)
MACHINE = {"x86_64": 62, "aarch64": 183, "riscv64": 243}
CROSS = ("aarch64", "riscv64")
# the cross arches virtio boots on (QEMU's virt boards); the others are
# not supported yet
VIRTIO_CROSS = {"aarch64", "riscv64"}
RAN_RE = re.compile(r"\] (.*): ran in \d+ ms$")


def setUpModule():
    # a cache of its own, empty: every runtime action must run in the burst;
    # 4 workers so that builds of one (target, arch) run at the same time
    harness.start_shared(workers=4, jobs=2, cache=None)


def tearDownModule():
    harness.stop_shared()


def is_runtime(label):
    return label.startswith("compile runtime/") or label.startswith("archive ")


class Cross(ApiTest):
    def arches(self):
        return {t["name"]: {a["name"]: a for a in t["arches"]} for t in self.d.get("/targets").json}

    def test_targets(self):
        """Every target lists x86_64, aarch64 and riscv64; spt's cross arches
        are unavailable, not supported, with the reason; virtio's are
        supported where it boots (available, or the package to install)."""
        ts = self.arches()
        for t in ("unix", "spt", "virtio"):
            self.assertEqual(set(ts[t]), set(MACHINE), t)
        for a in CROSS:
            spt, virtio = ts["spt"][a], ts["virtio"][a]
            self.assertEqual((spt["available"], spt["runnable"], spt["supported"]),
                             (False, False, False), spt)
            self.assertIn("runs on x86_64 hosts only", spt["reason"])
            if a in VIRTIO_CROSS:
                self.assertNotIn("supported", virtio)
                if not virtio["available"]:
                    self.assertIn("install the Debian package", virtio["reason"])
            else:
                self.assertEqual((virtio["available"], virtio["supported"]), (False, False),
                                 virtio)
                self.assertTrue(virtio["reason"].startswith("not supported yet"), virtio)
            unix = ts["unix"][a]
            self.assertNotIn("supported", unix)
            if not unix["available"]:
                # the reason names the Debian package to install
                self.assertIn("install the Debian package gcc-%s-linux-gnu" % a, unix["reason"])

    def test_virtio_riscv64(self):
        """virtio boots on riscv64 (QEMU's virt board): supported, and when
        unavailable it names the Debian package that is missing."""
        rv = self.arches()["virtio"]["riscv64"]
        self.assertNotIn("supported", rv)
        if not rv["available"]:
            self.assertRegex(rv["reason"], "install the Debian package (gcc-riscv64-linux-gnu|"
                             "binutils-riscv64-linux-gnu|qemu-system-misc)")

    def test_unsupported_refused(self):
        """A build for spt/aarch64 or spt/riscv64 is refused at once (400)
        with the reason, and nothing is queued."""
        self.d.create_project(harness.hello_project("nope"))
        for target, arch, says in (("spt", "aarch64", "spt/aarch64: not supported: spt's tender"),
                                   ("spt", "riscv64", "spt/riscv64: not supported: spt's tender")):
            r = self.d.post("/projects/nope/build", {"target": target, "arch": arch})
            self.assertEqual(r.status, 400, r)
            self.assertIn(says, r.text)
        # an arch no target has is the config's error, as before
        r = self.d.post("/projects/nope/build", {"target": "unix", "arch": "sparc"})
        self.assertEqual(r.status, 422, r)
        self.assertEqual(self.d.get("/projects/nope/builds").header("X-Total-Count"), "0")

    def test_burst_shares_runtime(self):
        ts = self.arches()
        for a in CROSS:
            if not ts["unix"][a]["available"]:
                self.skipTest(ts["unix"][a]["reason"])
        combos = [("unix", "x86_64"), ("unix", "aarch64"), ("unix", "riscv64")]
        combos += [(t, "x86_64") for t in ("spt", "virtio") if ts[t]["x86_64"]["available"]]
        # virtio on every arch it boots on: three arches for both unix and virtio
        combos += [("virtio", a) for a in sorted(VIRTIO_CROSS) if ts["virtio"][a]["available"]]
        projects = ("burst1", "burst2")
        for p in projects:
            self.d.create_project(harness.hello_project(p, config_name=p))
        started, errors = [], []

        def ask(p, target, arch):
            try:
                r = self.d.post("/projects/%s/build" % p, {"target": target, "arch": arch})
                if r.status == 202:
                    started.append((target, arch, r.json["id"]))
                else:
                    errors.append(r)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                errors.append(e)

        threads = [threading.Thread(target=ask, args=(p, t, a)) for p in projects for t, a in combos]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(started), len(projects) * len(combos))
        ran = {}  # (target, arch) -> {runtime action: builds that ran it}
        for target, arch, i in started:
            b = self.d.wait_build(i)
            self.assertEqual(b["status"], "succeeded", self.d.log(i))
            image = self.d.get("/builds/%d/image" % i).body
            self.assertEqual(int.from_bytes(image[18:20], "little"), MACHINE[arch], (target, arch))
            for line in self.d.log(i).splitlines():
                m = RAN_RE.search(line)
                if m and is_runtime(m.group(1)):
                    ran.setdefault((target, arch), {}).setdefault(m.group(1), []).append(i)
        self.assertEqual(set(ran), set(combos), "a (target, arch) ran no runtime action")
        for combo, actions in ran.items():
            self.assertTrue(any(a.startswith("archive ") for a in actions), (combo, actions))
            twice = {a: ids for a, ids in actions.items() if len(ids) > 1}
            self.assertEqual(twice, {}, "runtime actions of %s/%s ran more than once" % combo)


if __name__ == "__main__":
    harness.main()
