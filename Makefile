# TelemetryHub — the two commands a new user needs are `make run` and `make test`.
SWIFT ?= swift
PORT ?= 8080
DEVICES ?= 20
BIN := .build/debug/telemetryhub

.PHONY: run test build release format format-check conformance browser-test clean fuzz chaos

## make run: install what is missing, build, start the hub with simulated devices, print the dashboard URL
run: build
	$(BIN) demo --port $(PORT) --devices $(DEVICES)

## make test: install what tests need, build, run every test (unit, live, CLI, WebSocket conformance)
test:
	scripts/install-deps.sh test
	$(SWIFT) build --build-tests
	# One test at a time: live tests start hubs and time heartbeats, and on two cores hundreds of them at once
	# starve each other's timers. Serial, the whole suite takes about 1.5 min.
	$(SWIFT) test --skip-build --no-parallel
	scripts/browser-test.sh
	scripts/autobahn.sh
	# Every fuzz target for a short while, and a short chaos run (SIGKILLed hub, restarted broker): nothing acked lost.
	scripts/fuzz.sh --seconds $(FUZZ_CI_SECONDS)
	scripts/chaos.sh --cycles 3
	$(MAKE) format-check

build:
	scripts/install-deps.sh run
	$(SWIFT) build

release:
	scripts/install-deps.sh run
	$(SWIFT) build -c release

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

format-check:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

conformance: build
	scripts/autobahn.sh

## make browser-test: the served dashboard in headless Chromium against `telemetryhub demo`
browser-test: build
	scripts/install-deps.sh test
	scripts/browser-test.sh

clean:
	rm -rf .build .build-autobahn

## make chaos: SIGKILL the hub and restart the broker at random moments; every acknowledged sample must be stored
chaos: build
	scripts/chaos.sh --bin $(BIN)

## make fuzz: build the libFuzzer targets of HubCore (Tests/Fuzz) and run each for FUZZ_SECONDS (default 60)
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 10
fuzz:
	scripts/fuzz.sh --seconds $(FUZZ_SECONDS)
