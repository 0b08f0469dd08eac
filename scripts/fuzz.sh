#!/usr/bin/env bash
# Fuzzes each target ("./pkg:FuzzName") for FUZZTIME on top of its committed
# seed corpus; `make fuzz` calls it.
#
# Go 1.26's fuzz coordinator can end a run at -fuzztime with a bare
# "context deadline exceeded" though no input failed (go.dev/issue/75804,
# fixed in Go 1.27). Such a run wrote no failing input and nothing
# panicked: it is reported and not counted as a failure. Any other
# failure fails the script with go test's output. cmd/reliability applies
# the same rule.
set -euo pipefail
go=${GO:-go}
fuzztime=${FUZZTIME:-4s}
for t in "$@"; do
	pkg=${t%%:*}
	fn=${t##*:}
	echo "fuzz $fn ($pkg, $fuzztime)"
	if out=$("$go" test -run='^$' -fuzz="^$fn\$" -fuzztime="$fuzztime" "$pkg" 2>&1); then
		continue
	fi
	if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q -e 'Failing input written to' -e 'panic:' <<<"$out"; then
		echo "  cut short by Go's fuzz-coordinator race (go.dev/issue/75804); no input failed"
		continue
	fi
	echo "$out"
	exit 1
done
