# ems120 — make run (the demo) and make test do all the set-up on a fresh Debian machine with Go.
GO      ?= go
BIN     := bin/ems120
ARGS    ?=
export CGO_ENABLED := 1

.PHONY: all build run test bench lint setup fuzz clean

all: build

## build: compile bin/ems120
build:
	$(GO) build -o $(BIN) ./cmd/ems120

## setup: install PostgreSQL, PostGIS and kcat if missing (apt-get, as root)
setup:
	@scripts/setup.sh

## run: the demo — embedded broker, throwaway PostgreSQL, Wuhan, live status, HTTP API (ARGS="-rate 30")
run: setup build
	$(BIN) demo $(ARGS)

## test: lint, then every test against the real broker protocol and a real PostgreSQL
test: setup lint
	EMS_REQUIRE_PG=1 $(GO) test -race -count=1 -timeout 15m ./...

## bench: the benchmarks (BENCHMARKS.md says which and what they showed)
bench: setup
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

## lint: go vet and a gofmt check
lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

## fuzz: run each decoder's and encoder's fuzzer for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	for f in FuzzDecodeCall FuzzDecodeUnitPing FuzzDecodeCapacityReport FuzzFlatAgreesWithEncodingJSON FuzzAppendJSON; do \
		$(GO) test ./contract -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; done
	$(GO) test ./replay -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
