#!/usr/bin/env bash
# Throughput of embedis-server against redis-server 7.0, with redis-benchmark.
#
# Starts both on free loopback ports with the same settings (no persistence), runs
# `redis-benchmark -q -n N -c 50 -t set,get,incr,mset` against each in alternation, once
# without pipelining and once with -P 16, and prints ops/s with the ratio embedis/Redis.
#
#   benches/compare-redis.sh              # N=100000, 3 rounds (the best round counts)
#   N=20000 ROUNDS=1 benches/compare-redis.sh
#   EMBEDIS_BIN=/path/to/embedis-server benches/compare-redis.sh   # skip the cargo build
#
# Needs redis-server and redis-benchmark on PATH (apt-get install redis-server redis-tools).
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-set,get,incr,mset}

for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "error: $tool not on PATH" >&2; exit 1; }
done

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

wait_ping() { # port
    for _ in $(seq 1 200); do
        if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = "PONG" ]; then return 0; fi
        sleep 0.05
    done
    return 1
}

if [ -n "${EMBEDIS_BIN:-}" ]; then
    embedis_bin=$EMBEDIS_BIN
else
    echo "building embedis-server (release)..." >&2
    cargo build --release -q -p embedis-server
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    embedis_bin="$target_dir/release/embedis-server"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start() { # name -> sets $port; retries on a port clash
    local name=$1 pid
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        if [ "$name" = redis ]; then
            redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
                --daemonize no --logfile "" >/dev/null 2>&1 &
        else
            "$embedis_bin" --port "$port" --bind 127.0.0.1 >/dev/null 2>&1 &
        fi
        pid=$!
        if wait_ping "$port" && kill -0 "$pid" 2>/dev/null; then
            pids+=("$pid")
            return 0
        fi
        kill "$pid" 2>/dev/null || true
    done
    echo "error: could not start $name" >&2
    exit 1
}

start redis; redis_port=$port
start embedis; embedis_port=$port
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on :$redis_port, embedis-server on :$embedis_port"
echo "redis-benchmark -q -n $N -c $CLIENTS -t $TESTS, $ROUNDS round(s), best round counts"

declare -A best
bench() { # port pipeline -> lines "TEST ops"
    redis-benchmark -p "$1" -q -n "$N" -c "$CLIENTS" -P "$2" -t "$TESTS" 2>/dev/null |
        tr '\r' '\n' | grep -E 'requests per second' |
        sed -E 's/^([A-Za-z]+)[^:]*: ([0-9.]+) requests per second.*/\1 \2/'
}

for pipeline in 1 16; do
    for round in $(seq 1 "$ROUNDS"); do
        # Alternate which server goes first so that neither always gets the warmer machine.
        if [ $((round % 2)) -eq 1 ]; then order="redis embedis"; else order="embedis redis"; fi
        for who in $order; do
            if [ "$who" = redis ]; then p=$redis_port; else p=$embedis_port; fi
            redis-cli -p "$p" flushall >/dev/null
            while read -r test ops; do
                [ -n "$test" ] || continue
                key="$who/$pipeline/$test"
                if [ -z "${best[$key]:-}" ] || awk "BEGIN{exit !($ops > ${best[$key]})}"; then
                    best[$key]=$ops
                fi
            done < <(bench "$p" "$pipeline")
        done
    done
done

printf '\n%-6s %-4s %14s %14s %8s\n' test "-P" "redis ops/s" "embedis ops/s" ratio
for pipeline in 1 16; do
    for test in $(echo "$TESTS" | tr ',' ' '); do
        T=$(echo "$test" | tr '[:lower:]' '[:upper:]')
        r=${best[redis/$pipeline/$T]:-}
        e=${best[embedis/$pipeline/$T]:-}
        if [ -n "$r" ] && [ -n "$e" ]; then
            ratio=$(awk "BEGIN{printf \"%.2f\", $e / $r}")
        else
            ratio="n/a"
        fi
        printf '%-6s %-4s %14s %14s %8s\n' "$test" "$pipeline" "${r:-error}" "${e:-error}" "$ratio"
    done
done
