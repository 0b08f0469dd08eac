# `make test` is the whole suite: it installs and starts what it needs.
SHELL := /bin/bash
GO ?= go
PKGS ?= ./...
TESTFLAGS ?=

.PHONY: test check unit deps

test: check
	@eval "$$(scripts/test-deps.sh)" && $(GO) test -race -count=1 $(TESTFLAGS) $(PKGS)

# Static checks: gofmt must print nothing, go vet must pass.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Fast tests only: tests that need Redis, the control plane or Rails skip.
unit:
	$(GO) test -count=1 $(PKGS)

deps:
	@scripts/test-deps.sh
