#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, so that regressions show up in CI:
#
#   fuzz/run-short.sh [SECONDS]     (default 30 per target)
#
# With cargo-fuzz installed (`cargo install cargo-fuzz`), targets are built with coverage
# instrumentation and no sanitizer (`--sanitizer none`), which works on a stable toolchain
# given RUSTC_BOOTSTRAP=1 (cargo-fuzz passes a few `-Z` flags; nightly is not needed).
# Without cargo-fuzz (or if its build fails), the targets are built as plain binaries
# (`cargo build`, debug: they
# still link libFuzzer's driver, just without coverage feedback) and run the same way: they
# replay the checked-in corpus, then mutate it at random for the rest of the time.
#
# New corpus entries go to a temporary directory (the checked-in corpus stays small). A
# crash, a panic or a timeout leaves its input in fuzz/artifacts/<target>/ and makes the
# script exit non-zero; reproduce with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> fuzz/artifacts/<target>/<file>
# or, without cargo-fuzz, `<target dir>/debug/<target> <file>`.
#
# Targets are the files in fuzz/fuzz_targets/ (each must have a [[bin]] in fuzz/Cargo.toml).
# FUZZ_TARGETS="a b" limits the run to some of them.
set -euo pipefail

cd "$(dirname "$0")"
SECS=${1:-30}
targets=${FUZZ_TARGETS:-$(for f in fuzz_targets/*.rs; do basename "$f" .rs; done)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RUSTC_BOOTSTRAP=1

mode=plain
if cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: building with cargo-fuzz ($(cargo fuzz --version)), --sanitizer none"
    if cargo fuzz build --sanitizer none; then
        mode=cargo-fuzz
        triple=$(rustc -vV | awk '/^host:/ {print $2}')
        bin_dir="${CARGO_TARGET_DIR:-target}/$triple/release"
    else
        echo "fuzz: the cargo-fuzz build failed; falling back to the plain binaries"
    fi
else
    echo "fuzz: cargo-fuzz not installed"
fi
if [ "$mode" = plain ]; then
    echo "fuzz: running the plain binaries (no coverage feedback)"
    # The debug build: CI has just built it (`cargo build` in fuzz/), and a release build
    # of the engine would cost minutes for a run of seconds.
    cargo build
    bin_dir="${CARGO_TARGET_DIR:-target}/debug"
fi
# cargo-fuzz and cargo put relative target dirs under fuzz/.
case "$bin_dir" in /*) ;; *) bin_dir="$PWD/$bin_dir" ;; esac

failed=()
for t in $targets; do
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts" "corpus/$t"
    echo "fuzz: $t for ${SECS}s ($mode)"
    status=0
    "$bin_dir/$t" "$work/$t/corpus" "corpus/$t" \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 \
        >"$work/$t/log" 2>&1 || status=$?
    grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/$t/log" || true
    if [ "$status" -ne 0 ]; then
        mkdir -p "artifacts/$t"
        cp "$work/$t/artifacts/"* "artifacts/$t/" 2>/dev/null || true
        echo "fuzz: $t FAILED (exit $status); inputs kept in fuzz/artifacts/$t/"
        grep -v '^#' "$work/$t/log" | tail -40
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: findings in: ${failed[*]}"
    exit 1
fi
echo "fuzz: every target ran ${SECS}s without a finding"
