#!/usr/bin/env bash
# dirlist_bench - the main demo (examples/dirlist, one worker per CPU) against `fdfind -u -t f`
# and `find -type f` listing the same tree (default /usr), warm cache, output to /dev/null.
#
#     dirlist_bench [DIR]     BENCH_RUNS rounds (default 5), each running every lister once in
#                             turn after one warm-up round; the table gives the medians
#
# A lister that is not installed (fd-find) is skipped. Ratio: the lister's time / dirlist's
# (above 1: dirlist faster).
set -u
here=$(cd "$(dirname "$0")" && pwd)
dirlist=${DIRLIST:-$here/../examples/dirlist}
dir=${1:-/usr}
runs=${BENCH_RUNS:-5}
[ -x "$dirlist" ] || { echo "dirlist_bench: $dirlist not built" >&2; exit 1; }
cpus=$(nproc)
names=("dirlist $cpus $dir (weft)" "fdfind -u -t f . $dir" "find $dir -type f")
cmds=("$dirlist $cpus $dir" "fdfind -u -t f . $dir" "find $dir -type f")
command -v fdfind >/dev/null || { unset 'names[1]' 'cmds[1]'; }
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "# dirlist_bench on ${model:-unknown CPU}, $cpus CPUs, Linux $(uname -r)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ms() { # run a command, print its wall time in ms
    local t0 t1
    t0=$(date +%s%N)
    $1 >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))e-3
}
for k in "${!cmds[@]}"; do ms "${cmds[$k]}" >/dev/null; done # warm the cache
for _ in $(seq 1 "$runs"); do
    for k in "${!cmds[@]}"; do ms "${cmds[$k]}" >>"$tmp/$k"; done
done
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] }'; }
echo "files under $dir: $(find "$dir" -type f 2>/dev/null | wc -l); median of $runs rounds"
echo
echo "listing every regular file under $dir (ratio: lister's time / dirlist's)"
printf '| %-34s | %14s | %12s |\n' contender ms ratio
printf '|------------------------------------|----------------|--------------|\n'
base=$(median "$tmp/0")
for k in "${!cmds[@]}"; do
    m=$(median "$tmp/$k")
    printf '| %-34s | %14s | %11sx |\n' "${names[$k]}" "$m" \
        "$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
done
