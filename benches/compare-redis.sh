#!/usr/bin/env bash
# embedis-server against redis-server 7.0, side by side, with redis-benchmark.
#
# Starts both with the same settings (loopback, no persistence), runs redis-benchmark
# against each in alternation (-c 50, once without pipelining and once with -P 16, keys drawn
# from -r 100000) for set, get, incr, lpush, rpush, lpop, rpop, sadd, hset, spop, zadd,
# zpopmin, lrange_100, lrange_300, lrange_600, mset, plus EVALSHA of a small script, and
# writes to benches/results/:
#   compare-redis.md    the table: ops/s, p50 and p99 latency, ratio embedis/Redis; then
#                       memory per key (benches/memory.sh) and the LRU hit rate
#                       (benches/hitrate.sh), with the load average before and after
#   compare-redis.csv   one row per test and pipeline depth (what the chart is drawn from)
#   compare-redis.svg   the ratios as a bar chart (`--bin ratio_chart`)
#   raw.csv             every redis-benchmark row of every round
#
#   benches/compare-redis.sh                      # N=100000, 2 rounds (the best counts)
#   N=20000 ROUNDS=1 MEMORY=0 HITRATE=0 benches/compare-redis.sh   # a quick look
#   EMBEDIS_BIN=/path/to/embedis-server benches/compare-redis.sh   # skip the cargo build
#
# Ports: REDIS_PORT (7701) and EMBEDIS_PORT (7702); memory.sh and hitrate.sh get 7703/7704.
# The machine should be otherwise idle: the load average is recorded with the results.
# Needs redis-server, redis-benchmark and redis-cli on PATH (apt-get install redis-server
# redis-tools) and python3.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-100000}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
PIPELINES=${PIPELINES:-1 16}
TESTS=${TESTS:-set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_300,lrange_600,mset}
MEMORY=${MEMORY:-1}        # 0: skip memory.sh
MEMORY_KEYS=${MEMORY_KEYS:-1000000}
HITRATE=${HITRATE:-1}      # 0: skip hitrate.sh
HITRATE_SECS=${HITRATE_SECS:-20}
RP=${REDIS_PORT:-7701}
EP=${EMBEDIS_PORT:-7702}
OUT=${OUT:-benches/results}
# The script EVALSHA runs: a read-modify-write of one key, as scripts typically do.
SCRIPT='local v = redis.call("INCR", KEYS[1]) redis.call("EXPIRE", KEYS[1], 3600) return v'

for tool in redis-server redis-benchmark redis-cli python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool not on PATH" >&2; exit 1; }
done
mkdir -p "$OUT"
: "${CARGO_TARGET_DIR:=$PWD/target}"
export CARGO_TARGET_DIR

if [ -n "${EMBEDIS_BIN:-}" ]; then
    embedis_bin=$EMBEDIS_BIN
else
    echo "building embedis-server and ratio_chart (release)..." >&2
    cargo build --release -q -p embedis-server -p embedis-benches --bin embedis-server --bin ratio_chart
    embedis_bin="$CARGO_TARGET_DIR/release/embedis-server"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_ping() { # port
    for _ in $(seq 1 200); do
        if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = "PONG" ]; then return 0; fi
        sleep 0.05
    done
    return 1
}

redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --logfile "" >/dev/null 2>&1 &
pids+=($!)
"$embedis_bin" --port "$EP" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
pids+=($!)
wait_ping "$RP" || { echo "error: redis-server did not start on :$RP" >&2; exit 1; }
wait_ping "$EP" || { echo "error: embedis-server did not start on :$EP" >&2; exit 1; }

redis_version=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "redis-server $redis_version on :$RP, embedis-server on :$EP; load average $load_before"
echo "redis-benchmark -n $N -c $CLIENTS -r $KEYSPACE -P {$PIPELINES} -t $TESTS + EVALSHA, $ROUNDS round(s)"

raw="$OUT/raw.csv"
echo "server,pipeline,round,test,rps,p50_ms,p99_ms" >"$raw"

bench() { # server port pipeline round
    local who=$1 port=$2 pipeline=$3 round=$4 sha
    redis-cli -p "$port" flushall >/dev/null
    redis-benchmark -p "$port" -n "$N" -c "$CLIENTS" -r "$KEYSPACE" -P "$pipeline" \
        -t "$TESTS" --csv 2>/dev/null | tail -n +2 |
        awk -v w="$who" -v p="$pipeline" -v r="$round" \
            '/needed to benchmark/ { next }
             { gsub(/"/, ""); split($0, f, ","); t = f[1]; sub(/ .*/, "", t);
               printf "%s,%s,%s,%s,%s,%s,%s\n", w, p, r, t, f[2], f[5], f[7] }' >>"$raw"
    sha=$(redis-cli -p "$port" script load "$SCRIPT")
    redis-benchmark -p "$port" -n "$N" -c "$CLIENTS" -r "$KEYSPACE" -P "$pipeline" --csv \
        evalsha "$sha" 1 "counter:__rand_int__" 2>/dev/null | tail -n +2 |
        awk -v w="$who" -v p="$pipeline" -v r="$round" \
            '{ gsub(/"/, ""); split($0, f, ",");
               printf "%s,%s,%s,EVALSHA,%s,%s,%s\n", w, p, r, f[2], f[5], f[7] }' >>"$raw"
}

for pipeline in $PIPELINES; do
    for round in $(seq 1 "$ROUNDS"); do
        # Alternate which server goes first so that neither always gets the warmer machine.
        if [ $((round % 2)) -eq 1 ]; then order="redis embedis"; else order="embedis redis"; fi
        for who in $order; do
            if [ "$who" = redis ]; then port=$RP; else port=$EP; fi
            echo "  -P $pipeline round $round: $who" >&2
            bench "$who" "$port" "$pipeline" "$round"
        done
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cleanup
pids=()

md="$OUT/compare-redis.md"
python3 - "$raw" "$OUT/compare-redis.csv" >"$md.table" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
best = {}
for r in rows:
    k = (r["server"], int(r["pipeline"]), r["test"])
    if k not in best or float(r["rps"]) > float(best[k]["rps"]):
        best[k] = r
tests, pipes = [], []
for r in rows:
    if r["test"] not in tests:
        tests.append(r["test"])
    if int(r["pipeline"]) not in pipes:
        pipes.append(int(r["pipeline"]))
out = csv.writer(open(sys.argv[2], "w", newline=""))
out.writerow(["test", "pipeline", "redis_rps", "embedis_rps", "ratio",
              "redis_p50_ms", "embedis_p50_ms", "redis_p99_ms", "embedis_p99_ms"])
for p in pipes:
    print(f"\n### -P {p}\n")
    print("| test | Redis ops/s | embedis ops/s | ratio | Redis p50/p99 ms | embedis p50/p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios = []
    for t in tests:
        r, e = best.get(("redis", p, t)), best.get(("embedis", p, t))
        if not r or not e:
            print(f"| {t} | {r and r['rps'] or 'error'} | {e and e['rps'] or 'error'} | n/a | | |")
            continue
        ratio = float(e["rps"]) / float(r["rps"])
        ratios.append(ratio)
        print(f"| {t} | {float(r['rps']):,.0f} | {float(e['rps']):,.0f} | **{ratio:.2f}** | "
              f"{r['p50_ms']} / {r['p99_ms']} | {e['p50_ms']} / {e['p99_ms']} |")
        out.writerow([t, p, r["rps"], e["rps"], f"{ratio:.3f}",
                      r["p50_ms"], e["p50_ms"], r["p99_ms"], e["p99_ms"]])
    if ratios:
        import math
        g = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        print(f"\nGeometric mean of the ratios: **{g:.2f}**; lowest {min(ratios):.2f}.")
EOF

{
    echo "# embedis-server vs redis-server $redis_version"
    echo
    echo "Run $started by \`benches/compare-redis.sh\` on $(nproc) cores ($(uname -m)):"
    echo "\`redis-benchmark -n $N -c $CLIENTS -r $KEYSPACE\`, best of $ROUNDS alternating round(s)."
    echo "Both servers on loopback without persistence; embedis-server with its default"
    echo "worker threads (one per core), Redis single-threaded as usual. redis-benchmark runs"
    echo "on the same cores. Load average (1/5/15 min) before: $load_before; after: $load_after."
    echo "EVALSHA runs \`$SCRIPT\` on \`counter:__rand_int__\`."
    echo "Ratio = embedis ops/s / Redis ops/s (above 1: embedis is faster)."
    cat "$md.table"
} >"$md"
rm -f "$md.table"

if [ -x "$CARGO_TARGET_DIR/release/ratio_chart" ]; then
    "$CARGO_TARGET_DIR/release/ratio_chart" "$OUT/compare-redis.csv" "$OUT/compare-redis.svg"
    printf '\n![ratios](compare-redis.svg)\n' >>"$md"
fi

if [ "$MEMORY" != 0 ]; then
    echo "memory.sh $MEMORY_KEYS..." >&2
    {
        echo
        echo "## Memory per key"
        echo
        echo "\`benches/memory.sh $MEMORY_KEYS\`, load average $(cut -d' ' -f1 /proc/loadavg):"
        echo
        echo '```'
        REDIS_PORT=7703 EMBEDIS_PORT=7704 benches/memory.sh "$MEMORY_KEYS"
        echo '```'
    } >>"$md"
fi
if [ "$HITRATE" != 0 ]; then
    echo "hitrate.sh $HITRATE_SECS..." >&2
    {
        echo
        echo "## Cache hit rate (redis-cli --lru-test, maxmemory 30mb)"
        echo
        echo "\`benches/hitrate.sh $HITRATE_SECS allkeys-lru\`, load average $(cut -d' ' -f1 /proc/loadavg):"
        echo
        echo '```'
        REDIS_PORT=7703 EMBEDIS_PORT=7704 benches/hitrate.sh "$HITRATE_SECS" allkeys-lru
        echo '```'
    } >>"$md"
fi
cat "$md"
