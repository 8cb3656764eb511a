#!/usr/bin/env bash
# echo_bench - examples/echo_server against a plain Python asyncio echo server
# (bench/echo_asyncio.py), both driven by the same client (examples/echo_load) at 10, 50, 200
# and 1,000 connections in one run: round trips/s, p50 and p99 latency, how many connections
# made progress, the CPU time each side spent per round trip, and the ratios weft/asyncio.
#
#     echo_bench [SECONDS]    each measurement lasts SECONDS (default 5)
#
# On a machine with two CPUs or more, both servers run pinned to the last CPU this script may
# use and the client to the others (taskset), so that each server has one CPU to itself, as a
# single-threaded asyncio server naturally uses, and the client never takes the server's CPU
# from it; echo_server then runs one worker. Round trips/s are then set by the slower side:
# about 1 / max(server, client CPU per round trip).
#
# Environment: ECHO_BENCH_CONNS (default "10 50 200 1000"); ECHO_BENCH_SIZES, the message
# sizes (echo_load -s; default "1-65536 1-1024": random sizes up to 64 KiB, where copying
# through loopback dominates, then small messages, where per-message costs do; each message is
# sent in 1-4 writes); ECHO_BENCH_RUNS, measurements per server and point (default 3; the
# table gives the medians); ECHO_BENCH_LOAD_ARGS (more echo_load options); ECHO_BENCH_PIN
# (default 1; 0: no pinning, client and servers share every CPU); ECHO_BENCH_WORKERS
# (echo_server's pool; default 1 when pinned, else one per CPU). The two servers run side by
# side and are measured alternately, so a drift of the machine's load hits both.
# Columns "cpu us/rt": CPU time (user + system) per round trip of the server / of the client,
# from /proc and time(1): unlike round trips/s, robust to other load on the machine. "sys%":
# the server's share of it spent in the kernel. "cpu x": the ratio weft/asyncio those CPU
# costs allow: max(server, client) of asyncio / of weft when pinned, (server + client) of
# asyncio / of weft when not (the CPUs shared). "srv x": asyncio's server CPU per round trip
# over weft's, the ratio a client that costs nothing would show.
# Before the table, each server gets a 2 s warm-up at 50 connections with messages up to 64
# KiB: asyncio's cost per message depends on the history of the process (until glibc's malloc
# has freed one large block, the 256 KiB buffer asyncio reads each message into is mapped and
# unmapped with mmap/munmap per message, which doubles its cost), so both are measured in
# their steady state, asyncio's cheaper one.
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

# The CPUs this script may use; the last one for the servers, the rest for the client.
read -r -a cpus <<<"$(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')"
pin=${ECHO_BENCH_PIN:-1}
if [ "$pin" != 0 ] && [ "${#cpus[@]}" -ge 2 ] && command -v taskset >/dev/null; then
    scpu=${cpus[-1]}
    ccpu=$(IFS=,; echo "${cpus[*]:0:${#cpus[@]}-1}")
    on_server=(taskset -c "$scpu") on_client=(taskset -c "$ccpu")
    workers=${ECHO_BENCH_WORKERS:-1}
    where="servers pinned to CPU $scpu, client to CPU $ccpu"
else
    pin=0 on_server=() on_client=() workers=${ECHO_BENCH_WORKERS:-}
    where="not pinned: client and servers share ${#cpus[@]} CPU(s)"
fi

tmp=$(mktemp -d)
trap 'kill $wpid $ppid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"${on_server[@]}" "$server" 0 $workers >"$tmp/weft.out" 2>&1 &
wpid=$!
"${on_server[@]}" python3 "$peer" 0 >"$tmp/asyncio.out" 2>&1 &
ppid=$!
port_of() {
    for _ in $(seq 1 200); do
        grep -q "listening on" "$1" && { grep -o '127.0.0.1:[0-9]*' "$1" | cut -d: -f2; return; }
        sleep 0.05
    done
    echo "echo_bench: a server did not start:" >&2; cat "$1" >&2; exit 1
}
wport=$(port_of "$tmp/weft.out") pport=$(port_of "$tmp/asyncio.out")
for port in "$wport" "$pport"; do
    "${on_client[@]}" "$load" "$port" -c 50 -d 2 -s 1-65536 >"$tmp/load" 2>&1 ||
        { echo "echo_bench: the warm-up failed:" >&2; cat "$tmp/load" >&2; exit 1; }
done
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; } # user, system

# measure PORT PID CONNS SIZES -> "rt/s p50 p99 progressed server-us/rt client-us/rt sys%"
measure() {
    local u0 s0 u1 s1
    read -r u0 s0 <<<"$(cpu_ticks "$2")"
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S' -o "$tmp/time" "${on_client[@]}" "$load" "$1" -c "$3" -d "$secs" \
        -s "$4" ${ECHO_BENCH_LOAD_ARGS:-} >"$tmp/load" 2>&1
    read -r u1 s1 <<<"$(cpu_ticks "$2")"
    sed -n 's/.* \([0-9]*\) round trips in .* = \([0-9]*\) \/s, p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1 \2 \3 \4/p' \
        "$tmp/load" | {
        read -r n rt p50 p99 || { echo "- - - - - - -"; return; }
        prog=$(sed -n 's/.*: \([0-9]* of [0-9]*\) connections progressed.*/\1/p' "$tmp/load" | tr ' ' '_')
        awk -v n="$n" -v us="$((u1 - u0))" -v ss="$((s1 - s0))" -v hz="$hz" -v rt="$rt" \
            -v a="$p50" -v b="$p99" -v p="$prog" '{
                printf "%s %s %s %s %.1f %.1f %.0f\n", rt, a, b, p,
                    n ? (us + ss) / hz * 1e6 / n : 0, n ? ($1 + $2) * 1e6 / n : 0,
                    us + ss ? 100 * ss / (us + ss) : 0 }' "$tmp/time"
    }
}

# median of the numbers on stdin ("-" if none)
median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }

# point CONNS SIZES: runs alternate measurements of each server; prints the row of medians:
# for weft then asyncio: rt/s p50 p99 server-us client-us sys% worst-progress.
point() {
    : >"$tmp/w"; : >"$tmp/p"
    for _ in $(seq 1 "$runs"); do
        measure "$wport" "$wpid" "$1" "$2" >>"$tmp/w"
        measure "$pport" "$ppid" "$1" "$2" >>"$tmp/p"
    done
    for f in w p; do
        for col in 1 2 3 5 6 7; do awk -v c=$col '{ print $c }' "$tmp/$f" | grep -v -- - | median; done |
            tr '\n' ' '
        awk '{ print $4 }' "$tmp/$f" | sort | head -1 | tr '\n' ' ' # the worst progress
    done
    echo
}

# ratio A B: A / B with two decimals, "-" when B is not a positive number
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

# cpu_ratio WS WC PS PC: the weft/asyncio ratio of round trips/s the CPU costs allow
cpu_ratio() {
    awk -v ws="$1" -v wc="$2" -v ps="$3" -v pc="$4" -v pin="$pin" 'BEGIN {
        w = pin ? (ws > wc ? ws : wc) : ws + wc; p = pin ? (ps > pc ? ps : pc) : ps + pc
        if (w > 0) printf "%.2f", p / w; else print "-" }'
}

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "# echo_bench on ${model:-unknown CPU}, $(nproc) CPUs, Linux $(uname -r)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "echo_bench: $runs runs of $secs s per point and server, medians; $where; echo_server" \
    "workers: ${workers:-one per CPU}; client: echo_load, messages in 1-4 writes" \
    "${ECHO_BENCH_LOAD_ARGS:-}; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
fmt='| %5s | %8s | %7s | %7s | %7s | %9s | %11s | %4s | %7s | %7s | %7s | %9s | %11s | %4s | %5s | %5s | %5s | %5s |\n'
# shellcheck disable=SC2059 # one format for the header and the rows
printf "$fmt" conns "size B" "weft/s" "p50 ms" "p99 ms" progressed "cpu us/rt" "sys%" \
    "async/s" "p50 ms" "p99 ms" progressed "cpu us/rt" "sys%" "rt x" "p99 x" "cpu x" "srv x"
# shellcheck disable=SC2059 # the separator row: the same widths
printf "$fmt" | tr ' ' '-'
for size in $sizes; do
    for n in $conns; do
        read -r wr w50 w99 ws wc wsys wprog pr p50 p99 ps pc psys pprog <<<"$(point "$n" "$size")"
        # shellcheck disable=SC2059
        printf "$fmt" "$n" "$size" "$wr" "$w50" "$w99" "${wprog//_/ }" "$ws/$wc" "$wsys" "$pr" \
            "$p50" "$p99" "${pprog//_/ }" "$ps/$pc" "$psys" "$(ratio "$wr" "$pr")" \
            "$(ratio "$w99" "$p99")" "$(cpu_ratio "$ws" "$wc" "$ps" "$pc")" "$(ratio "$ps" "$ws")"
    done
done
