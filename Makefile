# Two commands on a fresh Debian 12 machine (as root, or with sudo):
#   make demo   installs what is missing, builds, runs the quickstart in local mode
#   make test   installs what is missing (the tests' packages too), builds, runs the
#               whole test suite, the fuzzers (FUZZ_SECONDS each), and the test
#               suite again built with AddressSanitizer and UBSan (make sanitize)
# and `make fuzz` runs only the fuzzers, `make sanitize` only the sanitizer run.
BUILD ?= build
JOBS ?= $(shell nproc)
PACKAGES := g++ cmake make pkg-config libzmq3-dev cppzmq-dev libcereal-dev libasio-dev \
            doctest-dev libspdlog-dev libcli11-dev libexpected-dev libsqlite3-dev \
            libsodium-dev libcpp-httplib-dev
# For the tests only: promtool checks /metrics, Chromium loads the dashboard,
# a single-machine SLURM (with MUNGE) runs examples/slurm/dpool.sbatch; sshd and
# ssh carry `dpool cluster up`; the fuzzers need clang and its libFuzzer runtime.
TEST_PACKAGES := prometheus chromium munge slurmctld slurmd slurm-client openssh-server \
                 openssh-client
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZERS := decode records scheduler
SANITIZE_BUILD ?= build-asan
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps test-deps fuzz-deps configure build demo test fuzz sanitize bench clean format

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

test-deps:
	@$(MAKE) --no-print-directory deps PACKAGES="$(TEST_PACKAGES)"

fuzz-deps:
	@$(MAKE) --no-print-directory deps PACKAGES="$(FUZZ_PACKAGES)"

# Optimised, with line tables for backtraces and profiles (-g1: full debug
# information costs a third more compile time and is rarely needed).
configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The demo builds only what it and the README's cluster use (the library, the
# quickstart and the `dpool` command); `make test` builds the rest.
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target quickstart dpool_cli
	$(BUILD)/examples/quickstart

test: build test-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory sanitize

# libFuzzer over what reads peers' bytes (fuzz/): each target runs for
# FUZZ_SECONDS from the seed corpus; a crash leaves its input in $(FUZZ_BUILD).
fuzz: deps fuzz-deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DDPOOL_FUZZ=ON -DDPOOL_BUILD_TESTS=OFF -DDPOOL_BUILD_EXAMPLES=OFF -DDPOOL_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_seeds $(addprefix fuzz_,$(FUZZERS)) \
	  >$(FUZZ_BUILD)/build.log 2>&1 || { tail -40 $(FUZZ_BUILD)/build.log; exit 1; }
	@$(FUZZ_BUILD)/bin/fuzz_seeds $(FUZZ_BUILD)/corpus
	@echo "fuzzing: $(addprefix fuzz_,$(FUZZERS)) at once, $(FUZZ_SECONDS) s each"
	@pids=; for t in $(FUZZERS); do \
	  $(FUZZ_BUILD)/bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	    -rss_limit_mb=4096 -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus/$$t \
	    >$(FUZZ_BUILD)/fuzz_$$t.log 2>&1 & pids="$$pids $$!"; \
	done; \
	failed=0; for p in $$pids; do wait $$p || failed=1; done; \
	for t in $(FUZZERS); do \
	  if [ $$failed = 0 ] && grep -q 'Done [0-9]* runs' $(FUZZ_BUILD)/fuzz_$$t.log; then \
	    echo "fuzz_$$t: $$(grep -o 'Done [0-9]* runs' $(FUZZ_BUILD)/fuzz_$$t.log)"; \
	  else echo "fuzz_$$t: FAILED"; tail -40 $(FUZZ_BUILD)/fuzz_$$t.log; failed=1; fi; \
	done; exit $$failed

# The unit, integration and example tests with ASan and UBSan in every process
# they start (cmake/Sanitize.cmake: options, the tests left out and why); any
# report fails the sanitizer_reports test and is printed there. Built with g++,
# not clang: Debian 12's clang 14 cannot compile std::views (used by the API
# and the tests) over libstdc++ 12. Unoptimised (-O0, line tables): with the
# sanitizers, -O2 takes about three times as long to compile, and the tests
# run quickly either way.
sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DDPOOL_SANITIZE=ON -DDPOOL_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS) >$(SANITIZE_BUILD)/build.log 2>&1 \
	  || { tail -40 $(SANITIZE_BUILD)/build.log; exit 1; }
	cd $(SANITIZE_BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bench/compare

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(SANITIZE_BUILD)
