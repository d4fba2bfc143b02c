# meshfs: `make run` and `make test` are all a fresh machine needs (Go 1.26).
SHELL := /bin/bash
GO ?= go
BIN := bin/meshfs
RUN_DIR := .run
# Packages that must build for the browser (GOOS=js GOARCH=wasm).
WASM_PKGS := $(foreach d,content namespace wasm,$(if $(wildcard $(d)/*.go),./$(d)/...))
FUZZTIME ?= 20s

.PHONY: all build run test verify unit fuzz bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/meshfs

# Until the mesh lands: import a sample file into a local repo and show how
# to read it back.
run: build
	@mkdir -p $(RUN_DIR)
	@$(GO) run ./internal/fixture/gen 10485767 > $(RUN_DIR)/sample.bin
	@cid=$$($(BIN) add -q --repo $(RUN_DIR)/repo $(RUN_DIR)/sample.bin) && \
	echo "imported $(RUN_DIR)/sample.bin (10485767 bytes) into the repo $(RUN_DIR)/repo" && \
	echo "CID: $$cid  (ipfs add --cid-version=1 gives the same)" && \
	echo "read it back:  $(BIN) cat --repo $(RUN_DIR)/repo $$cid | cmp - $(RUN_DIR)/sample.bin" && \
	echo "a range:       $(BIN) cat --repo $(RUN_DIR)/repo $$cid --offset 1000 --length 16 | od -An -tx1"

test: verify unit

unit:
	$(GO) test -race -shuffle=on -timeout 15m ./...

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

bench: build
	$(GO) run ./bench/content --bin $(BIN)

clean:
	rm -rf bin $(RUN_DIR)
