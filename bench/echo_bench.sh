#!/usr/bin/env bash
# echo_bench - examples/echo_server against a plain Python asyncio echo server
# (bench/echo_asyncio.py), both driven by the same client (examples/echo_load) at 10, 50, 200
# and 1,000 connections in one run: round trips/s, p50 and p99 latency, how many connections
# made progress, the CPU time each side spent per round trip, and the ratios weft/asyncio.
#
#     echo_bench [SECONDS]    each measurement lasts SECONDS (default 5)
#
# Environment: ECHO_BENCH_CONNS (default "10 50 200 1000"); ECHO_BENCH_SIZES, the message
# sizes (echo_load -s; default "1-65536 1-1024": random sizes up to 64 KiB, where copying
# through loopback dominates, then small messages, where per-message costs do; each message is
# sent in 1-4 writes); ECHO_BENCH_RUNS, measurements per server and point (default 3; the
# table gives the medians); ECHO_BENCH_LOAD_ARGS (more echo_load options);
# ECHO_BENCH_WORKERS (echo_server's pool; default one per CPU). The two servers run side by
# side and are measured alternately, so a drift of the machine's load hits both.
# Targets (issue 22): weft at least 2x asyncio's round trips/s at every count, p99 no higher,
# every connection progressing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
server=${ECHO_SERVER:-$here/../examples/echo_server}
load=${ECHO_LOAD:-$here/../examples/echo_load}
peer=${ECHO_ASYNCIO:-@WEFT_SOURCE_DIR@/bench/echo_asyncio.py}
secs=${1:-5}
conns=${ECHO_BENCH_CONNS:-10 50 200 1000}
sizes=${ECHO_BENCH_SIZES:-1-65536 1-1024}
runs=${ECHO_BENCH_RUNS:-3}
for f in "$server" "$load"; do [ -x "$f" ] || { echo "echo_bench: $f not built" >&2; exit 1; }; done
command -v python3 >/dev/null || { echo "echo_bench: needs python3" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "echo_bench: needs /usr/bin/time (Debian: time)" >&2; exit 1; }
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
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure PORT PID CONNS SIZES -> "rt/s p50 p99 progressed server-us/rt client-us/rt"
measure() {
    local s0 s1
    s0=$(cpu_ticks "$2")
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S' -o "$tmp/time" "$load" "$1" -c "$3" -d "$secs" -s "$4" \
        ${ECHO_BENCH_LOAD_ARGS:-} >"$tmp/load" 2>&1
    s1=$(cpu_ticks "$2")
    sed -n 's/.* \([0-9]*\) round trips in .* = \([0-9]*\) \/s, p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1 \2 \3 \4/p' \
        "$tmp/load" | {
        read -r n rt p50 p99 || { echo "- - - - - -"; return; }
        prog=$(sed -n 's/.*: \([0-9]* of [0-9]*\) connections progressed.*/\1/p' "$tmp/load" | tr ' ' '_')
        awk -v n="$n" -v ds="$((s1 - s0))" -v hz="$hz" -v rt="$rt" -v a="$p50" -v b="$p99" \
            -v p="$prog" '{ printf "%s %s %s %s %.1f %.1f\n", rt, a, b, p,
                            n ? ds / hz * 1e6 / n : 0, n ? ($1 + $2) * 1e6 / n : 0 }' "$tmp/time"
    }
}

# median of the numbers on stdin ("-" if none)
median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }

# point CONNS SIZES: runs alternate measurements of each server; prints the row of medians.
point() {
    : >"$tmp/w"; : >"$tmp/p"
    for _ in $(seq 1 "$runs"); do
        measure "$wport" "$wpid" "$1" "$2" >>"$tmp/w"
        measure "$pport" "$ppid" "$1" "$2" >>"$tmp/p"
    done
    for f in w p; do
        for col in 1 2 3 5 6; do awk -v c=$col '{ print $c }' "$tmp/$f" | grep -v -- - | median; done |
            tr '\n' ' '
        awk '{ print $4 }' "$tmp/$f" | sort | head -1 | tr '\n' ' ' # the worst progress
    done
    echo
}

echo "echo_bench: $runs runs of $secs s per point and server, medians; client: echo_load, messages" \
    "in 1-4 writes ${ECHO_BENCH_LOAD_ARGS:-}; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu us/rt: CPU time per round trip of the server / of the client (user + system)"
fmt='%6s %8s | %8s %7s %7s %11s %11s | %8s %7s %7s %11s %11s | %6s %6s\n'
printf "$fmt" conns "size B" "weft/s" "p50 ms" "p99 ms" progressed "cpu us/rt" "asyncio/s" "p50 ms" \
    "p99 ms" progressed "cpu us/rt" "rt x" "p99 x"
for size in $sizes; do
    for n in $conns; do
        read -r wr w50 w99 ws wc wprog pr p50 p99 ps pc pprog <<<"$(point "$n" "$size")"
        ratio=$(awk -v a="$wr" -v b="$pr" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        pratio=$(awk -v a="$w99" -v b="$p99" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf "$fmt" "$n" "$size" "$wr" "$w50" "$w99" "${wprog//_/ }" "$ws/$wc" "$pr" "$p50" \
            "$p99" "${pprog//_/ }" "$ps/$pc" "$ratio" "$pratio"
    done
done
