#!/bin/bash
# prometheus.sh — a Prometheus of its own for tests and local use, on 127.0.0.1.
#
#   scripts/prometheus.sh start DIR TARGET...   writes DIR/prometheus.yml (one scrape job
#       per TARGET, host:port, scraped every second, alerting rules from
#       deploy/prometheus/rules.yml), keeps its data in DIR/data, listens on a free
#       port, and prints its URL once /-/ready answers (also in DIR/url; its PID in
#       DIR/prometheus.pid, its log in DIR/prometheus.log). Exit 2 when prometheus is
#       not installed (Debian package prometheus), 1 when it does not start.
#   scripts/prometheus.sh stop DIR              stops the one started in DIR (by PID).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PROMETHEUS=${PROMETHEUS:-prometheus}

free_port() {
  local used p
  used=$(ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    grep -qx "$p" <<<"$used" || { echo "$p"; return; }
  done
  echo 0
}

start() {
  local dir=$1; shift
  command -v "$PROMETHEUS" >/dev/null || { echo "prometheus.sh: $PROMETHEUS is not installed (Debian package prometheus)" >&2; exit 2; }
  mkdir -p "$dir/data"
  {
    echo "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}"
    echo "rule_files: [\"$here/deploy/prometheus/rules.yml\"]"
    echo "scrape_configs:"
    local i=0
    for t in "$@"; do
      i=$((i + 1))
      echo "  - job_name: target$i"
      echo "    static_configs: [{targets: [\"$t\"]}]"
    done
  } >"$dir/prometheus.yml"
  for attempt in 1 2 3 4 5; do
    local port
    port=$(free_port)
    "$PROMETHEUS" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
      --web.listen-address="127.0.0.1:$port" >"$dir/prometheus.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/prometheus.pid"
    local end=$(( $(date +%s) + 60 ))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
      if curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
        echo "http://127.0.0.1:$port" | tee "$dir/url"
        return 0
      fi
      sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/prometheus.pid"
    # a port taken meanwhile: try another; anything else: give up
    grep -q "address already in use" "$dir/prometheus.log" || break
    echo "prometheus.sh: port $port taken (attempt $attempt), trying another" >&2
  done
  echo "prometheus.sh: prometheus did not become ready: $(tail -5 "$dir/prometheus.log")" >&2
  exit 1
}

stop() {
  local dir=$1 pid
  [ -f "$dir/prometheus.pid" ] || return 0
  pid=$(cat "$dir/prometheus.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/prometheus.pid"
}

case "${1:-}" in
  start) [ $# -ge 3 ] || { echo "usage: $0 start DIR TARGET..." >&2; exit 2; }; shift; start "$@" ;;
  stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
  *) echo "usage: $0 start DIR TARGET... | stop DIR" >&2; exit 2 ;;
esac
