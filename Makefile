# meshfs: `make run` and `make test` are all a fresh machine needs (Go 1.26).
SHELL := /bin/bash
GO ?= go
BIN := bin/meshfs
RUN_DIR := .run
# Packages that must build for the browser (GOOS=js GOARCH=wasm).
WASM_PKGS := $(foreach d,content namespace fsclient gc wasm,$(if $(wildcard $(d)/*.go),./$(d)/...))
FUZZTIME ?= 20s

.PHONY: all build run test verify unit test-deps test-wasm fuzz bench chaos clean

all: build

# The daemon embeds the browser node: build it (and copy the toolchain's
# wasm_exec.js, which must match it) into $(WEB_DIST) first.
WEB_DIST := wasm/web/dist
build:
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags=-s -o $(WEB_DIST)/meshfs.wasm ./wasm
	gzip -9 -f $(WEB_DIST)/meshfs.wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(WEB_DIST)/
	$(GO) build -o $(BIN) ./cmd/meshfs

# A local mesh of 5 daemons on 127.0.0.1 in the foreground (Ctrl-C stops it):
# it prints the peers' API URLs, an add/cat to try, the gateway and metrics
# URLs. Each run starts afresh: a previous $(RUN_DIR)/testnet is removed.
run: build
	@$(BIN) testnet --fresh --open --peers 5 --dir $(RUN_DIR)/testnet

test: verify unit test-wasm

# Test artifacts (the browser test's screenshot) land in $(ARTIFACTS).
ARTIFACTS := .artifacts
unit: test-deps
	mkdir -p $(ARTIFACTS)
	MESHFS_REQUIRE_BROWSER=1 $(GO) test -race -shuffle=on -timeout 15m \
	  -artifacts -outputdir $(CURDIR)/$(ARTIFACTS) ./...

# What the tests need beyond Go: Node.js and npm (the wasm tests),
# Debian's Chromium (the browser tests) and rsync (the mount tests),
# installed with apt when missing.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
test-deps:
	@missing=""; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="$$missing chromium"; \
	command -v rsync >/dev/null || missing="$$missing rsync"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing with apt for the tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The browser's packages' tests, run under Node by Go's js/wasm runner
# (with an in-memory IndexedDB from npm preloaded: see the script).
test-wasm: test-deps
	GOOS=js GOARCH=wasm $(GO) test -shuffle=on -timeout 5m \
	  -exec "$(CURDIR)/wasm/blockstore/testdata/nodeexec" $(WASM_PKGS)

verify:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	GOOS=js GOARCH=wasm $(GO) build $(WASM_PKGS)

# Each fuzz target for FUZZTIME (make fuzz FUZZTIME=3m for a longer run).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The long chaos pass: SEED (comma-separated seeds) and DURATION (per seed).
SEED ?= 1,2,3
DURATION ?= 5m
chaos:
	$(GO) test -count=1 -timeout 0 -v -run '^TestChaos$$' ./testnet/chaos -chaos.seeds=$(SEED) -chaos.duration=$(DURATION)

bench: build
	$(GO) run ./bench/content --bin $(BIN)
	$(GO) run ./bench/mesh --bin $(BIN)
	$(GO) run ./bench/namespace --bin $(BIN)
	$(GO) run ./bench/mount --bin $(BIN)
	$(GO) run ./bench/browser --bin $(BIN)

clean:
	rm -rf bin $(RUN_DIR)
