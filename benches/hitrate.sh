#!/usr/bin/env bash
# Cache hit rate under maxmemory, embedis-server vs redis-server, side by side: redis-cli's
# LRU test (1M keys drawn with a power law; a miss SETs the key) against a 30mb maxmemory,
# for the same duration on each server, one after the other. Prints the mean hit rate over
# the second half of each run (the first half fills the cache).
#   benches/hitrate.sh [SECONDS] [POLICY...]   (default 60 s, allkeys-lru allkeys-lfu)
# Ports 7117 (Redis) and 7118 (embedis) unless REDIS_PORT / EMBEDIS_PORT say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
shift || true
POLICIES=("${@:-allkeys-lru}")
[ $# -eq 0 ] && POLICIES=(allkeys-lru allkeys-lfu)
RP=${REDIS_PORT:-7117}
EP=${EMBEDIS_PORT:-7118}
: "${CARGO_TARGET_DIR:=target}"
cargo build --release -q -p embedis-server
BIN="$CARGO_TARGET_DIR/release/embedis-server"
DIR=$(mktemp -d)
trap 'redis-cli -p $RP shutdown nosave >/dev/null 2>&1 || true; redis-cli -p $EP shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT

run() { # name port policy
    local name=$1 port=$2 policy=$3
    if [ "$name" = redis ]; then
        redis-server --port "$port" --save '' --appendonly no --dir "$DIR" --daemonize yes \
            --maxmemory 30mb --maxmemory-policy "$policy" >/dev/null
    else
        "$BIN" --port "$port" --maxmemory 30mb --maxmemory-policy "$policy" >/dev/null 2>&1 &
    fi
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    # Line-buffered: redis-cli is stopped by timeout, and a block-buffered pipe would lose it.
    timeout "$SECS" stdbuf -oL redis-cli -p "$port" --lru-test 1000000 >"$DIR/$name.out" 2>&1 || true
    local keys evicted
    keys=$(redis-cli -p "$port" dbsize)
    evicted=$(redis-cli -p "$port" info stats | awk -F: '/^evicted_keys/ {print $2}' | tr -d '\r')
    # Lines look like: "131250 Gets/sec | Hits: 115678 (88.13%) | Misses: 15572 (11.86%)"
    tr '\r' '\n' <"$DIR/$name.out" | grep -o 'Hits: [0-9]* ([0-9.]*%)' | grep -o '[0-9.]*%' \
        | tr -d '%' | awk -v n="$name" -v p="$policy" -v k="$keys" -v e="$evicted" \
        '{ v[NR] = $1 } END { h = int(NR / 2); s = 0; for (i = h + 1; i <= NR; i++) s += v[i];
           printf "%-8s %-12s hit rate %.2f%% (mean of last %d s), %s keys cached, %s evicted\n",
                  n, p, s / (NR - h), NR - h, k, e }'
    local gets
    gets=$(tr '\r' '\n' <"$DIR/$name.out" | grep -o '^[0-9]* Gets/sec' | awk '{ s += $1 } END { printf "%d", s / NR }')
    echo "         ($gets gets/s on average)"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    sleep 0.5
}

for p in "${POLICIES[@]}"; do
    run redis "$RP" "$p"
    run embedis "$EP" "$p"
done
