#!/bin/bash
# Counts the instructions of one operation of each kind the system
# benchmarks time (see TestInstructionCounts in instructions_test.go), with
# valgrind's callgrind: a measure other processes on a shared machine do
# not change. Usage, from the repository root:
#
#   bash bench/callgrind.sh [tracked emails, default 20000]
#
# It needs valgrind (apt-get install valgrind) and takes a few minutes.
set -euo pipefail
size=${1:-20000}
out=$(mktemp -d)
go test -c -o "$out/bench.test" ./bench/
phases="countHeader countToken countNone countTrack countParse countReadMessage countParseCorpus countReadMessageCorpus"
dumps=()
for p in $phases; do
	dumps+=("--dump-after=github.com/mailcorrelate/mailcorrelate/bench_test.$p")
done
# Go's runtime reads the time stamp counter with RDTSCP, which valgrind
# does not emulate, and preempts goroutines with signals, which confuse
# callgrind: both are turned off.
(cd bench && MAILCORRELATE_BENCH_CALLGRIND=$size GOMAXPROCS=1 GOGC=off \
	GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off \
	valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
	--toggle-collect='*bench_test.count*' "${dumps[@]}" \
	"$out/bench.test" -test.run '^TestInstructionCounts$' -test.v >"$out/log" 2>&1) || {
	tail -30 "$out/log"
	exit 1
}
grep -m1 'operations per phase' "$out/log" || true
for f in "$out"/cg.out.*; do
	phase=$(grep -m1 '^desc: Trigger' "$f" | sed 's/.*bench_test\.//')
	total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
	printf "%-24s %8d instructions/op\n" "$phase" $((total / 2000))
done
echo "profiles: $out/cg.out.* (callgrind_annotate --inclusive=yes FILE)"
