# Margin: `make demo` runs the report on the simulated world, `make test` runs every test.
GO      ?= go
GOBIN   := $(shell $(GO) env GOPATH)/bin
# Build info for --version and margin_exporter_build_info, read by github.com/prometheus/common/version.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILD_USER ?= $(shell whoami)@$(shell hostname)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS = -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) -X $(VERSION_PKG).Branch=$(BRANCH) \
          -X $(VERSION_PKG).BuildUser=$(BUILD_USER) -X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

# Test peers: taken from PATH when present, otherwise installed with `go install` (pinned).
STRIPE_MOCK_VERSION := v0.180.0
STRIPE_MOCK := $(or $(shell command -v stripe-mock 2>/dev/null),$(GOBIN)/stripe-mock)
PROMETHEUS_VERSION := v0.316.0
PROMETHEUS := $(or $(shell command -v prometheus 2>/dev/null),$(GOBIN)/prometheus)
PROMTOOL := $(or $(shell command -v promtool 2>/dev/null),$(GOBIN)/promtool)
# Headless Chromium for the HTML report's browser test and `make screenshots` (Debian: apt-get install chromium).
CHROMIUM ?= $(or $(shell command -v chromium 2>/dev/null),$(shell command -v chromium-browser 2>/dev/null))
# gosec for make lint: every HIGH and MEDIUM finding is fixed or answered in the code (#nosec Gxxx -- reason).
GOSEC_VERSION := v2.30.0
GOSEC := $(or $(shell command -v gosec 2>/dev/null),$(GOBIN)/gosec)

# Go packages of this module; npm packages under plugin/node_modules may carry Go files of their own.
GOPKGS = $(shell $(GO) list ./... | grep -v /node_modules/)

# The executables tests run as processes (internal/testbin), built once per `make test` and shared
# by every test package through $MARGIN_TEST_BIN.
TESTBIN := $(CURDIR)/bin/test

# golangci-lint pinned (.golangci.yml is v2 config); `make lint` installs it when missing or another version.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(GOBIN)/golangci-lint

.PHONY: demo demo-exporter test test-go test-short build docker ldflags lint bench fuzz tools chromium screenshots dashboards plugin plugin-backend plugin-frontend test-plugin-frontend

demo:
	$(GO) run ./cmd/margin report --demo

demo-exporter:
	$(GO) run ./cmd/margin-exporter --demo

# Every test: the plugin frontend's checks (npm ci when node_modules is missing, typecheck, lint,
# jest) run beside the Go ones, each target's output printed whole when it ends. npm ci is mostly
# file I/O, so the two share two cores well.
test: tools chromium
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-plugin-frontend test-go

# The Go tests in ./dashboards run promtool's rule checks and unit tests, once. The executables
# the tests run are built once, with the -ldflags of `make build` (the version tests read them).
# One test binary more than cores at a time (go test runs one per core): several packages mostly
# wait on processes (Prometheus, promtool, Chromium) or retries, and the extra one keeps the cores
# busy meanwhile (on 2 cores: 74 s instead of 83 s).
TEST_PARALLEL ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
test-go: tools chromium
	$(GO) vet $(GOPKGS)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(TESTBIN)/ ./cmd/margin ./cmd/margin-exporter
	CGO_ENABLED=0 $(GO) build -tags arrow_json_stdlib -o $(TESTBIN)/gpx_margin ./plugin/pkg
	MARGIN_TEST_BIN=$(TESTBIN) STRIPE_MOCK_BIN=$(STRIPE_MOCK) PROMETHEUS_BIN=$(PROMETHEUS) PROMTOOL_BIN=$(PROMTOOL) CHROMIUM_BIN=$(CHROMIUM) $(GO) test -p $(TEST_PARALLEL) -count=1 $(GOPKGS)

# The Go unit tests alone: no test peers (promtool, Prometheus, stripe-mock, Chromium), no
# executables built; the tests that need them skip under -short.
test-short:
	$(GO) test -short -count=1 $(GOPKGS)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

# The images of docker-compose.yml, with the build info of `make build`.
docker:
	@for t in exporter cli; do img=marginhq/margin$$( [ $$t = exporter ] && echo -exporter ):dev; \
	  docker build --target $$t -t $$img --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	    --build-arg BRANCH=$(BRANCH) --build-arg BUILD_USER=$(BUILD_USER) --build-arg BUILD_DATE=$(BUILD_DATE) . || exit 1; \
	done

# The -ldflags of build; the version tests build with exactly these.
ldflags:
	@echo '$(LDFLAGS)'

chromium:
	@test -n "$(CHROMIUM)" || { echo "chromium not found: apt-get install chromium (or set CHROMIUM=/path/to/chromium)"; exit 1; }

# docs/img/report.png: the HTML report of the simulated world, as the README shows it.
screenshots: chromium
	@mkdir -p docs/img bin
	$(GO) run ./cmd/margin report --demo --format=html > bin/report.html
	CHROMIUM_BIN=$(CHROMIUM) $(GO) run ./internal/browser/screenshot -width 960 -o docs/img/report.png bin/report.html

lint: $(GOSEC)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOPKGS)
	$(GOSEC) -quiet -severity=medium -exclude-dir=plugin/node_modules ./...
	@$(GOLANGCI_LINT) version 2>/dev/null | grep -q 'version $(GOLANGCI_LINT_VERSION:v%=%) ' || $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	$(GOLANGCI_LINT) run $$($(GO) list -f '{{.Dir}}' ./... | grep -v /node_modules/)

# The end-to-end benchmarks (internal/floor, cmd/margin, plugin) read indented pages as large as the
# real APIs send, each beside the floor client reading the same pages; 10,000 keys take minutes.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=20x ./internal/engine/
	$(GO) test -run '^$$' -bench . -benchmem ./internal/catalog/
	$(GO) test -run '^$$' -bench CustomersQuery -benchmem -benchtime=1x ./plugin/pkg/plugin/
	$(GO) test -run '^$$' -bench DecodeUsagePage -benchmem -benchtime=3x ./internal/providers/openai/
	MARGIN_BENCH_10K=1 $(GO) test -run '^$$' -bench . -benchmem -benchtime=1x -timeout=60m ./internal/floor/
	MARGIN_BENCH_10K=1 $(GO) test -run '^$$' -bench Report -benchmem -benchtime=1x -timeout=60m ./cmd/margin/
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=3x ./exporter/

# Resident memory of margin-exporter --demo at rest, after the first fill and a few scrapes.
.PHONY: exporter-rss
exporter-rss:
	GO=$(GO) scripts/exporter-rss.sh

# Each Go fuzz target for FUZZTIME (`make test` runs their seed corpora, as go test always does).
FUZZTIME ?= 20s
FUZZ_TARGETS := ./internal/ledger:FuzzParseDollars ./internal/ledger:FuzzParseCents \
	./internal/ledger:FuzzDecimalAndMoneyJSON ./internal/config:FuzzParse ./exporter:FuzzLoadState \
	./internal/providers/apiclient:FuzzParseErrorBody ./internal/providers/openai:FuzzFetchPages \
	./internal/providers/anthropic:FuzzFetchPages ./internal/providers/openrouter:FuzzFetchPages \
	./internal/billing/stripe:FuzzFetchLists ./internal/billing/stripe:FuzzObjects_DecodeAsStripeGo \
	./internal/billing/stripe:FuzzParseID
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; done

# The Prometheus rules and their unit tests, by hand (`make test` runs them through the Go tests in
# ./dashboards, with the dashboard, compose, provisioning and integration checks). promtool: PATH,
# else `make tools`.
dashboards: $(PROMTOOL)
	@command -v $(PROMTOOL) >/dev/null || { echo "promtool not found: apt-get install prometheus (or go install github.com/prometheus/prometheus/cmd/promtool@v0.316.0)"; exit 1; }
	$(PROMTOOL) check rules dashboards/alerts/margin-rules.yml
	$(PROMTOOL) test rules dashboards/alerts/margin-rules_test.yml

# The Grafana plugin: `make plugin` fills plugin/dist, ready to copy into Grafana's plugins folder.
# The backend is built like the SDK's mage targets (no cgo, arrow's stdlib JSON, static, stripped)
# as gpx_margin_<os>_<arch>; `cd plugin && mage -v` builds every platform the SDK knows.
PLUGIN_PLATFORMS := linux/amd64 linux/arm64 darwin/arm64
plugin: plugin-frontend plugin-backend

# The frontend (module.js, plugin.json, bundled dashboards) with webpack; its clean step keeps the
# gpx_margin_* executables. npm ci installs package-lock.json's tree when node_modules is missing.
plugin-frontend: plugin/node_modules
	cd plugin && npm run build

test-plugin-frontend: plugin/node_modules
	cd plugin && npm run typecheck && npm run lint && npm run test:ci

plugin/node_modules:
	cd plugin && npm ci --no-audit --no-fund

plugin-backend:
	@for p in $(PLUGIN_PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
	  echo "plugin/dist/gpx_margin_$${os}_$${arch}"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -tags arrow_json_stdlib \
	    -ldflags '-w -s -extldflags "-static" $(LDFLAGS)' -o plugin/dist/gpx_margin_$${os}_$${arch} ./plugin/pkg || exit 1; \
	done

tools: $(STRIPE_MOCK) $(PROMETHEUS) $(PROMTOOL)

$(GOBIN)/stripe-mock:
	$(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

$(GOBIN)/prometheus:
	$(GO) install github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS_VERSION)

$(GOBIN)/promtool:
	$(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)

$(GOBIN)/gosec:
	$(GO) install github.com/securego/gosec/v2/cmd/gosec@$(GOSEC_VERSION)
