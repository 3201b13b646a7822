#!/usr/bin/env bash
# Resident memory of margin-exporter at rest on the demo world: builds the binary as the Dockerfile
# does (static, -trimpath, stripped: what the image runs), starts it with --demo, waits for the
# first fill (every source up), scrapes /metrics a few times as Prometheus does (gzip), lets it
# settle and prints VmRSS and VmHWM from /proc/PID/status. Usage:
#   scripts/exporter-rss.sh [scrapes] [settle-seconds]     (make exporter-rss)
set -euo pipefail
scrapes=${1:-5}
settle=${2:-5}
go=${GO:-go}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o "$dir/margin-exporter" ./cmd/margin-exporter
port=$((20000 + RANDOM % 20000))
"$dir/margin-exporter" --demo --web.listen-address="127.0.0.1:$port" --log.level=error &
pid=$!
url="http://127.0.0.1:$port/metrics"
up() {
	curl -fsS -o "$dir/metrics" "$url" 2>/dev/null && [ "$(grep -c '^margin_source_up{.*} 1$' "$dir/metrics")" -eq 4 ]
}
for _ in $(seq 600); do
	if up; then
		break
	fi
	sleep 0.1
done
up || { echo "exporter: not every source up after 60 s" >&2; exit 1; }
for _ in $(seq "$scrapes"); do
	curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null "$url"
done
sleep "$settle"
mib() { awk -v k="$1" '$1 == k":" {printf "%.1f", $2/1024}' "/proc/$pid/status"; }
echo "margin-exporter --demo at rest, ${settle} s after the first fill and $scrapes scrapes:" \
	"VmRSS $(mib VmRSS) MiB (anonymous $(mib RssAnon), file $(mib RssFile)); peak VmHWM $(mib VmHWM) MiB"
