// Command reliability runs the real bot binary as a child process against
// a real redis-server, the fake Slack and the sandboxed Signon and cluster
// doubles, and breaks things under it: it kills the bot at random points
// of many rotations, stops Redis mid-run and brings it back empty, runs
// two replicas on one Redis, kills it during a daily sweep and a
// superseded clean-up, fuzzes the parsers and scans everything the
// bot wrote for a token. It prints a table of what it counted and, as its
// last line, one JSON object of the figures; it exits non-zero when a
// figure that must be zero is not.
//
//	go run ./cmd/reliability            # the full run: 100 kills
//	go run ./cmd/reliability -short     # CI's: about 10 kills, 3s fuzzing
//
// It needs SIGNON_BOT_REDIS_SERVER (scripts/test-deps.sh exports it) and
// the go command, and runs from anywhere inside the module.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
}
