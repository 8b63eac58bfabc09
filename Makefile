# ems120 — make run (the demo) and make test do all the set-up on a fresh Debian machine with Go.
GO      ?= go
BIN     := bin/ems120
ARGS    ?=
export CGO_ENABLED := 1

.PHONY: all build web run test bench lint setup fuzz clean screenshots

all: build

## build: bundle the console (npm + esbuild) and compile bin/ems120 with it embedded
build: web
	$(GO) build -o $(BIN) ./cmd/ems120

## web: bundle the console into web/dist (npm ci from the committed lockfile, then esbuild)
web:
	@web/build.sh

## setup: install PostgreSQL, PostGIS, kcat, Node.js/npm and Chromium if missing (apt-get, as root)
setup:
	@scripts/setup.sh

## run: the demo — embedded broker, throwaway PostgreSQL, Wuhan, live status, HTTP API (ARGS="-rate 30")
run: setup build
	$(BIN) demo $(ARGS)

## test: lint, then every test against the real broker protocol and a real PostgreSQL
test: setup web lint
	EMS_REQUIRE_PG=1 EMS_REQUIRE_BROWSER=1 $(GO) test -race -count=1 -timeout 15m ./...

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

## screenshots: run the browser tests and keep their screenshots in docs/screenshots (README shows them)
screenshots: setup web
	EMS_SCREENSHOTS=$(CURDIR)/docs/screenshots EMS_REQUIRE_PG=1 EMS_REQUIRE_BROWSER=1 $(GO) test -count=1 -run 'TestConsole' ./service

clean:
	rm -rf bin web/dist/assets web/dist/index.html
