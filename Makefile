# `make test` is the whole suite: it installs and starts what it needs.
SHELL := /bin/bash
GO ?= go
PKGS ?= ./...
TESTFLAGS ?=

.PHONY: test check unit deps fuzz bench reliability

test: check
	@eval "$$(scripts/test-deps.sh)" && $(GO) test -race -count=1 -timeout 20m $(TESTFLAGS) $(PKGS)
	@# sandboxbot's profiling hooks build only with this tag (make bench's -cpuprofile, -memprofile).
	@$(GO) test -race -count=1 -tags profile $(TESTFLAGS) ./cmd/sandboxbot
	@$(MAKE) --no-print-directory fuzz

# A short run of every fuzz target, on top of its committed seed corpus.
FUZZTIME ?= 4s
FUZZ_TARGETS = \
	./commands:FuzzParseAlert ./commands:FuzzAlertMessage ./commands:FuzzSlashCommand \
	./commands:FuzzBlockAction ./commands:FuzzViewSubmission \
	./commands/blocks:FuzzParseGateValue ./commands/blocks:FuzzParseOfferValue ./commands/blocks:FuzzEscape \
	./commands/blocks:FuzzUntrustedMentionsNobody ./flows/token:FuzzRedact

fuzz:
	@GO="$(GO)" FUZZTIME="$(FUZZTIME)" scripts/fuzz.sh $(FUZZ_TARGETS)

# Static checks: gofmt must print nothing, go vet must pass.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags profile ./cmd/sandboxbot

# Fast tests only: tests that need Redis, the control plane or Rails skip.
unit:
	$(GO) test -count=1 $(PKGS)

deps:
	@scripts/test-deps.sh

# docs/benchmarks.md: ack latency, Slack calls per rotation, an alert storm
# under Slack's rate limits, memory and resume, each against a baseline run
# beside it. About 25 minutes; BENCHFLAGS=-only ack,memory for some.
bench:
	@eval "$$(scripts/test-deps.sh)" && $(GO) run ./cmd/bench $(BENCHFLAGS)

# docs/reliability.md: the bot killed at random points, Redis outages, two
# replicas, a leak scan and fuzzing. RELIABILITYFLAGS=-short is CI's run
# (it also runs inside `make test`).
reliability:
	@eval "$$(scripts/test-deps.sh)" && $(GO) run ./cmd/reliability $(RELIABILITYFLAGS)
