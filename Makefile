# Two commands do all set-up on a fresh Debian 12 machine:
#   make run   install missing packages, build mgd and mgctl, start the daemon
#              (data in var/) with a project per example
#   make test  install missing packages (also Chromium and playwright-core for
#              the browser tests), build with sanitizers, run every test; and
#              build as plain `cmake -DCMAKE_BUILD_TYPE=Release` does, with
#              warnings as errors, and run the unit tests and the installation
#              tests (cmake --install, the systemd unit, the .deb) of that build; the
#              long tests labelled `soak` are left out (ctest -L soak runs them)
# Build trees live under build/: build/release for running, build/test for
# the sanitizer build that the tests use, build/release-tests for the plain
# Release build with the tests on.

JOBS ?= $(shell nproc)
RELEASE := build/release
TESTDIR := build/test
# a plain CMake Release build with the tests on, as packagers and IDEs
# build: make test compiles it and runs its unit tests
RELTESTDIR := build/release-tests

.PHONY: all deps webdeps build run examples test bench fuzz mutation format clean

all: build

deps:
	@scripts/deps.sh

# what the browser tests need beyond deps: Node.js, Chromium, playwright-core
webdeps:
	@scripts/web-test-deps.sh

$(RELEASE)/CMakeCache.txt: | deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DMGD_TESTS=OFF >/dev/null

$(RELTESTDIR)/CMakeCache.txt: | deps
	@cmake -S . -B $(RELTESTDIR) -DCMAKE_BUILD_TYPE=Release >/dev/null

$(TESTDIR)/CMakeCache.txt: | deps webdeps
	@cmake -S . -B $(TESTDIR) -DCMAKE_BUILD_TYPE=Debug -DMGD_SANITIZE=ON >/dev/null

build: deps $(RELEASE)/CMakeCache.txt
	@cmake --build $(RELEASE) -j $(JOBS)

run: build
	@scripts/run-daemon.sh $(RELEASE)/daemon/mgd $(RELEASE)/client/mgctl

# builds every example with `mgd build` and runs it, without the daemon
examples: build
	@scripts/run-examples.sh $(RELEASE)/daemon/mgd

test: deps webdeps $(TESTDIR)/CMakeCache.txt $(RELTESTDIR)/CMakeCache.txt
	@cmake --build $(RELTESTDIR) -j $(JOBS)
	@cd $(RELTESTDIR) && ctest --output-on-failure -j $(JOBS) -L '^(unit|install)$$'
	@cmake --build $(TESTDIR) -j $(JOBS)
	@cd $(TESTDIR) && ctest --output-on-failure -j $(JOBS) -LE '^(soak|mutation)$$'

bench: build
	@cmake --build $(RELEASE) -j $(JOBS) --target benchmarks
	@$(RELEASE)/bench/resolve/bench-resolve
	@bench/build/bench_build.py $(RELEASE)/daemon/mgd examples
	@bench/api/bench_api.py $(RELEASE)/daemon/mgd
	@bench/queue/bench_queue.py $(RELEASE)/daemon/mgd
	@bench/gc/bench_gc.py $(RELEASE)/daemon/mgd
	@bench/client/bench_mgctl.py $(RELEASE)/daemon/mgd $(RELEASE)/client/mgctl
	@bench/web/bench_dashboard.py $(RELEASE)/daemon/mgd
	@bench/image/bench_image.py $(RELEASE)/daemon/mgd examples
	@bench/net/bench_net.py $(RELEASE)/daemon/mgd examples
	@bench/load/bench_load.py $(RELEASE)/daemon/mgd
	@bench/scale/bench_scale.sh $(RELEASE)/daemon/mgd examples || test $$? -eq 77

# the mutation pass (docs/fuzzing.md): hand-chosen bugs planted one at a
# time in the sources (each restored), the plain Release build with the
# tests rebuilt and the tests named for each run; fails below 90 %
mutation: deps $(RELTESTDIR)/CMakeCache.txt
	@cmake --build $(RELTESTDIR) -j $(JOBS)
	@tests/mutation/run.py --build $(RELTESTDIR) --jobs $(JOBS)

# the libFuzzer targets, each for FUZZ_RUNS executions (docs/fuzzing.md):
# make fuzz FUZZ_RUNS=10000000 for the long runs
FUZZ_RUNS ?= 1000000
fuzz: deps
	@scripts/fuzz.sh --runs $(FUZZ_RUNS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
