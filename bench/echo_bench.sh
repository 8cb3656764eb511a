#!/usr/bin/env bash
# echo_bench - examples/echo_server against a plain Python asyncio echo server
# (bench/echo_asyncio.py), both driven by the same client (examples/echo_load) at 10, 50, 200
# and 1,000 connections in one run: round trips/s, p50 and p99 latency, how many connections
# made progress, and the ratios weft/asyncio.
#
#     echo_bench [SECONDS]    each measurement lasts SECONDS (default 5)
#
# Environment: ECHO_BENCH_CONNS (default "10 50 200 1000"), ECHO_BENCH_LOAD_ARGS (more echo_load
# options; default: its own, 1 B-64 KiB messages in 1-4 writes, one client thread),
# ECHO_BENCH_WORKERS (echo_server's pool; default one per CPU). The two servers run side by
# side and are measured alternately at each count, so a drift of the machine's load hits both.
# Targets (issue 22): weft at least 2x asyncio's round trips/s at every count, p99 no higher,
# every connection progressing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
server=${ECHO_SERVER:-$here/../examples/echo_server}
load=${ECHO_LOAD:-$here/../examples/echo_load}
peer=${ECHO_ASYNCIO:-@WEFT_SOURCE_DIR@/bench/echo_asyncio.py}
secs=${1:-5}
conns=${ECHO_BENCH_CONNS:-10 50 200 1000}
for f in "$server" "$load"; do [ -x "$f" ] || { echo "echo_bench: $f not built" >&2; exit 1; }; done
command -v python3 >/dev/null || { echo "echo_bench: needs python3" >&2; exit 1; }
[ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096 2>/dev/null || echo "echo_bench: ulimit -n is" \
    "$(ulimit -n): 1,000 connections may not fit" >&2

tmp=$(mktemp -d)
trap 'kill $wpid $ppid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$server" 0 ${ECHO_BENCH_WORKERS:-} >"$tmp/weft.out" 2>&1 &
wpid=$!
python3 "$peer" 0 >"$tmp/asyncio.out" 2>&1 &
ppid=$!
port_of() {
    for _ in $(seq 1 200); do
        grep -q "listening on" "$1" && { grep -o '127.0.0.1:[0-9]*' "$1" | cut -d: -f2; return; }
        sleep 0.05
    done
    echo "echo_bench: a server did not start:" >&2; cat "$1" >&2; exit 1
}
wport=$(port_of "$tmp/weft.out") pport=$(port_of "$tmp/asyncio.out")

# measure PORT CONNS -> "rt/s p50 p99 progressed" from echo_load's report
measure() {
    # shellcheck disable=SC2086
    "$load" "$1" -c "$2" -d "$secs" ${ECHO_BENCH_LOAD_ARGS:-} >"$tmp/load" 2>&1
    sed -n 's/.* = \([0-9]*\) \/s, p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1 \2 \3/p' "$tmp/load" \
        | tr '\n' ' '
    sed -n 's/.*: \([0-9]* of [0-9]*\) connections progressed.*/\1/p' "$tmp/load" | tr ' ' '_'
}

echo "echo_bench: $secs s per measurement; client: echo_load ${ECHO_BENCH_LOAD_ARGS:-(defaults: 1-65536 B in 1-4 writes)}; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%6s | %9s %8s %8s %11s | %9s %8s %8s %11s | %8s %9s\n' conns "weft rt/s" "p50 ms" \
    "p99 ms" progressed "asyncio" "p50 ms" "p99 ms" progressed "rt/s x" "p99 ratio"
for n in $conns; do
    read -r wr w50 w99 wprog <<<"$(measure "$wport" "$n")"
    read -r pr p50 p99 pprog <<<"$(measure "$pport" "$n")"
    ratio=$(awk -v a="${wr:-0}" -v b="${pr:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    pratio=$(awk -v a="${w99:-0}" -v b="${p99:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '%6s | %9s %8s %8s %11s | %9s %8s %8s %11s | %8s %9s\n' "$n" "${wr:--}" "${w50:--}" \
        "${w99:--}" "${wprog//_/ }" "${pr:--}" "${p50:--}" "${p99:--}" "${pprog//_/ }" "$ratio" "$pratio"
done
