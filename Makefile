# mcpgw: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
export GOFLAGS ?= -buildvcs=false

OPA_VERSION := v1.22.2
GOLANGCI_VERSION := v2.15.0

DATA_DIR ?= ./data
RUN_FLAGS ?=

.PHONY: build run test test-go test-policy lint fmt vet bench fuzz gen-check gen e2e eval load-search load-gateway embedder tools clean

build: ## build mcpgw and mcpctl into bin/
	$(GO) build -o $(BIN)/ ./cmd/mcpgw ./cmd/mcpctl

run: build ## run registry + xds + authz on the embedded store under ./data
	$(BIN)/mcpgw serve --data-dir $(DATA_DIR) $(RUN_FLAGS)

# Test tools are installed into bin/ at pinned versions (idempotent; the first run compiles them).
$(BIN)/opa:
	GOBIN=$(BIN) $(GO) install github.com/open-policy-agent/opa@$(OPA_VERSION)

$(BIN)/hydra:
	test/tools/hydra/install.sh $(BIN)

$(BIN)/golangci-lint:
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

test/e2e/ts/node_modules: test/e2e/ts/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix test/e2e/ts --no-audit --no-fund; else echo "npm not found: the TypeScript SDK tests will skip"; fi

tools: $(BIN)/opa $(BIN)/hydra test/e2e/ts/node_modules ## install the test tools (OPA, Hydra, the TypeScript MCP SDK)

test: tools test-policy test-go ## every test: policies, then Go with the race detector

test-policy: $(BIN)/opa
	$(BIN)/opa fmt --list --fail policies/
	$(BIN)/opa check --strict policies/
	$(BIN)/opa test --coverage --threshold 90 policies/ > /dev/null || { $(BIN)/opa test -v policies/; $(BIN)/opa test --coverage --threshold 90 --format=json policies/ | tail -n 5; exit 1; }
	@echo "policy tests passed with coverage >= 90%"

# -ldflags=-w leaves DWARF out of the test binaries: a third less link time, and panics still print full stacks.
test-go:
	MCPGW_HYDRA_BIN=$(BIN)/hydra $(GO) test -race -ldflags=-w -timeout 12m ./...

e2e: $(BIN)/hydra test/e2e/ts/node_modules ## the gateway end to end: mcpgw, the test data plane, Hydra, the Go and TypeScript MCP SDKs
	MCPGW_HYDRA_BIN=$(BIN)/hydra $(GO) test -race -count=1 -timeout 10m ./test/e2e/ ./test/dataplane/ ./test/mcpserver/

lint: $(BIN)/golangci-lint ## gofmt, go vet and golangci-lint (with depguard keeping frameworks out of domain packages)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/golangci-lint run ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

bench: ## benchmarks (long; not part of make test)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
	$(GO) run ./test/load/foundation -n 10000

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-30s} -fuzzminimizetime 3s $$pkg || exit 1; \
	  done; \
	done

gen: ## rewrite golden files
	$(GO) test ./xds/translate -run '^TestGolden$$' -update

gen-check: ## fail when golden files are stale
	$(GO) test ./xds/translate -run '^TestGolden$$' -update
	@git diff --exit-code -- '*/testdata/out/*' || { echo "golden files changed: run make gen and commit"; exit 1; }

eval: ## search quality on the dev set (NDCG@10, MRR, Recall@10 per category); EVAL_DATASET=dir for another set
	$(GO) run ./cmd/mcpctl search eval --dataset $${EVAL_DATASET:-registry/search/testdata/eval}

load-search: ## search and list load at 1, 10 and 100 concurrent clients over loopback
	$(GO) run ./test/load/search -n 1000 -duration 10s -levels 1,10,100

load-gateway: build ## latency the gateway path adds per tool call, at 1 and 50 clients
	$(GO) run ./test/load/gateway -duration 10s

embedder: ## rebuild the builtin embedding table (Node teacher + Go trainer; ~35 min; needs apt-get update once)
	registry/search/embed/distill/build.sh

clean:
	rm -rf $(BIN)
