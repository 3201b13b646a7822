# Margin images, one multi-stage build: `docker build --target exporter` (margin-exporter) and
# `docker build --target cli` (margin: report, check, backfill, simulate). docker-compose.yml builds both.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
COPY exporter ./exporter
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/margin ./cmd/margin-exporter
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
