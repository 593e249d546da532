#!/usr/bin/env bash
# Active expiry, embedis-server vs redis-server, side by side: SET keys with a 1 s TTL at
# 100k keys/s and sample DBSIZE every 100 ms; the keys counted beyond those whose TTL has not
# passed are expired but still in memory (nobody reads them, so only active expiry frees
# them). Usage: benches/expiry.sh [RATE] [TTL_MS] [SECONDS]  (default 100000 1000 20)
# Ports 7117 (Redis) and 7118 (embedis) unless REDIS_PORT / EMBEDIS_PORT say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-100000}
TTL=${2:-1000}
SECS=${3:-20}
RP=${REDIS_PORT:-7117}
EP=${EMBEDIS_PORT:-7118}
: "${CARGO_TARGET_DIR:=target}"
cargo build --release -q -p embedis-server
BIN="$CARGO_TARGET_DIR/release/embedis-server"
DIR=$(mktemp -d)
trap 'redis-cli -p $RP shutdown nosave >/dev/null 2>&1 || true; redis-cli -p $EP shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT

for name in redis embedis; do
    if [ "$name" = redis ]; then
        port=$RP
        redis-server --port "$port" --save '' --appendonly no --dir "$DIR" --daemonize yes >/dev/null
    else
        port=$EP
        "$BIN" --port "$port" >/dev/null 2>&1 &
    fi
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    echo "== $name: $RATE keys/s, TTL $TTL ms, $SECS s"
    python3 benches/memory/resp.py expiry "$port" "$RATE" "$TTL" "$SECS"
    echo "expired_keys: $(redis-cli -p "$port" info stats | awk -F: '/^expired_keys/ {print $2}' | tr -d '\r')"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    sleep 0.5
done
