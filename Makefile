# Switchboard. `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/switchboard

.PHONY: help deps build run generate check-generated fmt-check vet lint test test-go spec-check bench clean

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

deps: ## Install what the project needs from the system's package manager, if missing
	@bash scripts/deps.sh

build: ## Build bin/switchboard
	$(GO) build -o $(BIN) ./server/cmd/switchboard

run: deps build ## Build and run `switchboard serve` on the embedded default (./.data); webhooks may reach local receivers
	SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS=$${SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS:-true} ./$(BIN) serve

generate: ## Regenerate gen/ from openapi/*.yaml
	$(GO) generate ./gen/...

check-generated: ## Fail when regenerating gen/ would change it
	@bash scripts/check-generated.sh

fmt-check: ## Fail when gofmt would change a Go file
	@out=$$(gofmt -l server store openapi scripts); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet every package
	$(GO) vet ./...

lint: ## golangci-lint with .golangci.yml (bug linters, gosec, the layering); no util/common/models/helpers package
	@bash scripts/lint.sh

test-go: ## Go tests only (real PostgreSQL, race detector)
	$(GO) test -race -count=1 ./...

spec-check: ## Lint the specs (Redocly, Spectral), generate Go code from each with ogen, type-check a TypeScript SDK of each
	@bash scripts/spec-check.sh

test: deps check-generated fmt-check vet lint test-go spec-check ## Everything CI runs

# The last bench line: 10 million stored messages (with their deliveries and attempts, loaded
# with COPY) against an empty database, side by side. 13.5 GB of disk for the loaded database plus
# up to 8 GB of WAL, and about 7 minutes on the 2-core machine (4.5 of them the load);
# -webhooks-stored 100000 is a three-minute check.
bench: deps ## Benchmarks of the real serve binary, bounded in time: in-process Go benchmarks, the pgbench-relative load and dispatch run, then webhooks, then ingest, then webhooks on an empty database against 10 million stored messages
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 1 ./server/...
	$(GO) run ./scripts/bench -c 32 -d 10s -dispatch 20000
	$(GO) run ./scripts/bench -webhooks -rate 1000 -rate-for 60s -rate2 2500 -rate2-for 20s -burst-for 20s
	$(GO) run ./scripts/bench -ingest -rate 1000 -rate-for 60s -burst-for 20s
	$(GO) run ./scripts/bench -webhooks-stored 10000000 -rate 1000 -rate-for 20s -burst-for 20s -gets 500

clean: ## Remove bin/ and the SDK check's output
	rm -rf bin scripts/sdkcheck/out
