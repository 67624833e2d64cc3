#!/bin/sh
# Sum Check's per-program results in the test logs under a build tree.
# Prints "PASSED FAILED SKIPPED". A program that died before Check could
# print its summary counts as one failure. A check that printed the
# "SKIP: " line of itest_skip (tests/harness/itest.h) is skipped, not
# passed: Check itself only knows pass and fail.
dir="${1:-.}"
passed=0
failed=0
skipped=0
for trs in $(find "$dir" -name '*.trs' | sort); do
	log="${trs%.trs}.log"
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" 2>/dev/null | tail -n 1)
	s=$(cat "$log" 2>/dev/null | grep -c '^SKIP: ')
	if [ -n "$line" ]; then
		n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
		e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		p=$((n - f - e - s))
		[ "$p" -ge 0 ] || p=0	# a check that skipped, then failed
		passed=$((passed + p))
		failed=$((failed + f + e))
		skipped=$((skipped + s))
		if grep -q '^:test-result: FAIL' "$trs" && [ $((f + e)) -eq 0 ]; then
			failed=$((failed + 1))	# exited non-zero after passing checks
		fi
	elif grep -q '^:test-result: PASS' "$trs"; then
		passed=$((passed + 1))
	elif grep -q '^:test-result: SKIP' "$trs"; then
		skipped=$((skipped + 1))	# exit 77, automake's skip
	else
		failed=$((failed + 1))
	fi
done
echo "$passed $failed $skipped"
