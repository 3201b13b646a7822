#!/usr/bin/env bash
# Resident memory of margin-exporter at rest on the demo world: builds the binary as the Dockerfile
# does (static, -trimpath, stripped: what the image runs), starts it with --demo, waits for the
# first fill (every source up), scrapes /metrics a few times as Prometheus does (gzip), lets it
# settle and prints VmRSS and VmHWM from /proc/PID/status. Usage:
#   scripts/exporter-rss.sh [scrapes] [settle-seconds]     (make exporter-rss)
# With WORLD=process the world is `margin simulate` in a process of its own and the exporter reads
# it over HTTP with the docker-compose demo's config (dashboards/compose/demo.yaml), as a deployed
# exporter reads the real APIs: the figure without the in-process simulated world.
set -euo pipefail
scrapes=${1:-5}
settle=${2:-5}
go=${GO:-go}
dir=$(mktemp -d)
pid= sim=
trap 'kill $pid $sim 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir"' EXIT
CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o "$dir/margin-exporter" ./cmd/margin-exporter
port=$((20000 + RANDOM % 20000))
world=(--demo)
if [ "${WORLD:-}" = process ]; then
	CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o "$dir/margin" ./cmd/margin
	simport=$((port + 1))
	"$dir/margin" simulate --listen="127.0.0.1:$simport" >/dev/null 2>&1 &
	sim=$!
	sed -e "s|http://simulator:8089|http://127.0.0.1:$simport|" -e '/^state_file:/d' dashboards/compose/demo.yaml >"$dir/margin.yaml"
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$simport/" 2>/dev/null && break
		sleep 0.1
	done
	world=(--config.file="$dir/margin.yaml")
fi
"$dir/margin-exporter" "${world[@]}" --web.listen-address="127.0.0.1:$port" --log.level="${LOG_LEVEL:-error}" &
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
# POLLS=2 (or more) waits for that many polls: the first fill reads the whole backfill window,
# and its facts stay as each source's last good ones until a later poll's trailing days replace
# them; from the second poll on the exporter is in the state it keeps between polls.
polled() { grep '^margin_source_last_success_timestamp_seconds' "$dir/metrics" | awk '{print $2}' | sort -n | head -1; }
first=$(polled)
for n in $(seq 2 "${POLLS:-1}"); do
	for _ in $(seq 4000); do # --demo polls every 5 minutes, the compose config every minute
		sleep 0.1
		if up && [ "$(polled)" != "$first" ]; then
			break
		fi
	done
	[ "$(polled)" != "$first" ] || { echo "exporter: poll $n did not come within 400 s" >&2; exit 1; }
	first=$(polled)
done
for _ in $(seq "$scrapes"); do
	curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null "$url"
done
sleep "$settle"
mib() { awk -v k="$1" '$1 == k":" {printf "%.2f", $2/1024}' "/proc/$pid/status"; }
after="the first fill"
[ "${POLLS:-1}" -le 1 ] || after="poll ${POLLS}"
echo "margin-exporter ${world[0]%%=*} at rest, ${settle} s after $after and $scrapes scrapes:" \
	"VmRSS $(mib VmRSS) MiB (anonymous $(mib RssAnon), file $(mib RssFile)); peak VmHWM $(mib VmHWM) MiB"
