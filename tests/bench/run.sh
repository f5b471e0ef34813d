#!/bin/sh
# Runs the benchmarks (all, or the one named) and collects their BENCH lines into
# bench-results.json. Each benchmark prints one line
#   BENCH <name> <value> <unit> ref=<reference>:<value> ratio=<x> peak_rss_mb=<m>
# where the reference is measured in the same run (docs/architecture.md §10).
# Environment: BENCH_DIR (benchmark binaries), INDIV_BIN, SCALE (size knob, default 1).
set -u
dir=${BENCH_DIR:?BENCH_DIR is not set}
only=${1:-}
out=bench-results.json
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
status=0
found=0
for b in "$dir"/bench_*; do
    [ -x "$b" ] || continue
    name=${b##*/bench_}
    [ -n "$only" ] && [ "$only" != "$name" ] && continue
    found=1
    echo "== bench $name (SCALE=${SCALE:-1})" >&2
    if ! "$b" | tee -a "$lines"; then
        echo "bench $name failed" >&2
        status=1
    fi
done
if [ "$found" = 0 ]; then
    echo "no benchmark named '${only}' (have: $(ls "$dir" | sed -n 's/^bench_//p' | tr '\n' ' '))" >&2
    exit 2
fi
grep '^BENCH ' "$lines" | awk -v scale="${SCALE:-1}" '
BEGIN { printf "{\n  \"scale\": %s,\n  \"results\": [", scale; sep = "" }
{
    split($5, ref, "[=:]"); split($6, ratio, "="); split($7, rss, "=");
    printf "%s\n    {\"name\": \"%s\", \"value\": %s, \"unit\": \"%s\", \"ref\": \"%s\", " \
           "\"ref_value\": %s, \"ratio\": %s, \"peak_rss_mb\": %s}", \
           sep, $2, $3, $4, ref[2], ref[3], ratio[2], rss[2];
    sep = ","
}
END { printf "\n  ]\n}\n" }' > "$out"
echo "wrote $out" >&2
exit $status
