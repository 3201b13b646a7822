# Margin: `make demo` runs the report on the simulated world, `make test` runs every test.
GO      ?= go
GOBIN   := $(shell $(GO) env GOPATH)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Test peers: taken from PATH when present, otherwise installed with `go install` (pinned).
STRIPE_MOCK_VERSION := v0.180.0
STRIPE_MOCK := $(or $(shell command -v stripe-mock 2>/dev/null),$(GOBIN)/stripe-mock)

.PHONY: demo test test-short build lint bench tools

demo:
	$(GO) run ./cmd/margin report --demo

test: tools
	$(GO) vet ./...
	STRIPE_MOCK_BIN=$(STRIPE_MOCK) $(GO) test -count=1 ./...

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=20x ./internal/engine/
	$(GO) test -run '^$$' -bench . -benchmem ./internal/catalog/

tools: $(STRIPE_MOCK)

$(GOBIN)/stripe-mock:
	$(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)
