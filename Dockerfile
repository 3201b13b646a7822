# Margin images, one multi-stage build: `docker build --target exporter` (margin-exporter) and
# `docker build --target cli` (margin: report, check, backfill, simulate). docker-compose.yml builds both.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
COPY exporter ./exporter
# Build info for --version and margin_exporter_build_info (github.com/prometheus/common/version);
# `make docker` passes them from git describe, the way `make build` sets them.
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_USER=docker
ARG BUILD_DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w \
      -X github.com/prometheus/common/version.Version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION} \
      -X github.com/prometheus/common/version.Branch=${BRANCH} -X github.com/prometheus/common/version.BuildUser=${BUILD_USER} \
      -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
    -o /out/ ./cmd/margin ./cmd/margin-exporter
# The exporter's state directory, owned by distroless' nonroot user so a fresh named volume is writable.
RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot AS exporter
COPY --from=build /out/margin-exporter /usr/local/bin/margin-exporter
COPY --from=build --chown=65532:65532 /out/state /var/lib/margin
EXPOSE 9479
USER nonroot
ENTRYPOINT ["/usr/local/bin/margin-exporter"]
CMD ["--config.file=/etc/margin/margin.yaml"]

FROM gcr.io/distroless/static-debian12:nonroot AS cli
COPY --from=build /out/margin /usr/local/bin/margin
# Where `margin backfill` writes in docker-compose, writable by nonroot on a fresh named volume.
COPY --from=build --chown=65532:65532 /out/state /backfill
EXPOSE 8089
USER nonroot
ENTRYPOINT ["/usr/local/bin/margin"]
