# SPDX-License-Identifier: Apache-2.0
GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/bulwarkai/bulwark/internal/version.Version=$(VERSION)
FUZZTIME  ?= 10s
GUARD_DATA ?= ../shared/data/guard

.PHONY: build test test-short fuzz bench lint fmt check train-guard demo clean

build: ## static binary in bin/bulwark
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/bulwark ./cmd/bulwark

demo: build ## run the gateway with the built-in demo upstream
	./bin/bulwark serve --demo

# Fuzz targets' seed corpora run as ordinary tests here. Open-ended fuzzing stays out of
# `make test`: Go's fuzz coordinator can miss its shutdown deadline on a loaded 2-core
# machine ("context deadline exceeded") with no failing input, which failed CI once.
test: ## unit + integration tests (race detector on)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

test-short:
	$(GO) test -short -count=1 ./...

fuzz: ## every fuzz target for FUZZTIME each
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/llm
	$(GO) test -run='^$$' -fuzz='^FuzzRewrite$$' -fuzztime=$(FUZZTIME) ./internal/llm
	$(GO) test -run='^$$' -fuzz='^FuzzUsage$$' -fuzztime=$(FUZZTIME) ./internal/llm
	$(GO) test -run='^$$' -fuzz='^FuzzParseDifferential$$' -fuzztime=$(FUZZTIME) ./internal/llm

bench: build ## Go benchmarks + load benchmark (see docs/benchmarks.md)
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./internal/...
	./scripts/loadbench.sh

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	@missing=$$(for f in $$(git ls-files '*.go'); do head -1 $$f | grep -q SPDX-License-Identifier || echo $$f; done); \
	  test -z "$$missing" || (echo "missing SPDX header: $$missing"; exit 1)

fmt:
	gofmt -w $$(git ls-files '*.go')

train-guard: ## retrain the prompt-injection model from $(GUARD_DATA)
	$(GO) run ./internal/guard/injection/train -data $(GUARD_DATA) -out internal/guard/injection/model.bin

check: lint test

clean:
	rm -rf bin
