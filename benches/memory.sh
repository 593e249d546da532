#!/usr/bin/env bash
# Bytes per key, embedis-server vs redis-server, side by side: N keys `key:NNNNNNNNNNNN` ->
# 3-byte values (`xxx`), without and with a TTL, from the process's RSS delta over the load
# and from INFO used_memory. Each run uses a fresh server process. Usage:
#   benches/memory.sh [N]        (default 1000000)
# Ports 7117 (Redis) and 7118 (embedis) unless REDIS_PORT / EMBEDIS_PORT say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RP=${REDIS_PORT:-7117}
EP=${EMBEDIS_PORT:-7118}
: "${CARGO_TARGET_DIR:=target}"
cargo build --release -q -p embedis-server
BIN="$CARGO_TARGET_DIR/release/embedis-server"
PY="python3 benches/memory/resp.py"
DIR=$(mktemp -d)
trap 'redis-cli -p $RP shutdown nosave >/dev/null 2>&1 || true; redis-cli -p $EP shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT

rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }

start() { # name port -> pid
    if [ "$1" = redis ]; then
        redis-server --port "$2" --save '' --appendonly no --dir "$DIR" --daemonize yes >/dev/null
    else
        "$BIN" --port "$2" >/dev/null 2>&1 &
    fi
    for _ in $(seq 50); do redis-cli -p "$2" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$2" info server | awk -F: '/process_id/ {print $2}' | tr -d '\r'
}

measure() { # name port ttl
    local name=$1 port=$2 ttl=$3 pid rss0 used0 rss1 used1
    pid=$(start "$name" "$port")
    sleep 0.5
    rss0=$(rss "$pid"); used0=$($PY info "$port" used_memory)
    $PY load "$port" "$N" "$ttl"
    sleep 1
    rss1=$(rss "$pid"); used1=$($PY info "$port" used_memory)
    printf "%-8s %-4s %10.1f %12.1f\n" "$name" "$([ "$ttl" = 0 ] && echo no || echo yes)" \
        "$(echo "($rss1 - $rss0) / $N" | bc -l)" "$(echo "($used1 - $used0) / $N" | bc -l)"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    sleep 0.5
}

echo "$N keys key:NNNNNNNNNNNN -> 3-byte value: bytes per key"
printf "%-8s %-4s %10s %12s\n" server ttl "rss-delta" "used_memory"
measure redis "$RP" 0
measure embedis "$EP" 0
measure redis "$RP" 100000000
measure embedis "$EP" 100000000
