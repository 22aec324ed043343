# Two commands on a fresh Debian 12 machine (as root, or with sudo):
#   make demo   installs what is missing, builds, runs the quickstart in local mode
#   make test   installs what is missing, builds, runs the whole test suite
# prometheus (promtool) and chromium are for the tests only: the http and
# dashboard tests check /metrics and the dashboard with them.
BUILD ?= build
JOBS ?= $(shell nproc)
PACKAGES := g++ cmake make pkg-config libzmq3-dev cppzmq-dev libcereal-dev libasio-dev \
            doctest-dev libspdlog-dev libcli11-dev libexpected-dev libsqlite3-dev \
            libsodium-dev libcpp-httplib-dev \
            prometheus chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps configure build demo test bench clean format

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The demo builds only what it and the README's cluster use (the library, the
# quickstart and the `dpool` command); `make test` builds the rest.
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target quickstart dpool_cli
	$(BUILD)/examples/quickstart

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bench/compare

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD)
