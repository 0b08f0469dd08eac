package main

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/sandbox/scenario"
)

// The sweep-driven scenarios start when the clock passes 02:00, not at
// start-up (yesterday's sweep is on record), post one digest for the day,
// and play with no click (autopilot) or one person's (superseded). What
// Signon and the cluster hold at the end is the scenario's check (PASS).
func TestDemoSweeps(t *testing.T) {
	for name, clicks := range map[string]int{scenario.Autopilot: 0, scenario.Superseded: 1} {
		t.Run(name, func(t *testing.T) {
			out, errOut, err := demoRun(t, nil, "", "-scenario", name)
			if err != nil {
				t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
			}
			if n := strings.Count(out, "*Daily sweep of "); n != 1 {
				t.Errorf("%d digests printed, want 1:\n%s", n, out)
			}
			if !strings.Contains(out, "for 2026-11-26:") || !strings.Contains(out, "Next sweep 27 Nov 2026 02:00 UTC") {
				t.Errorf("the digest is not the one of the day the clock passed 02:00 on:\n%s", out)
			}
			if n := strings.Count(out, "Confirmed by @"); n != clicks {
				t.Errorf("%d confirmations by a person, want %d:\n%s", n, clicks, out)
			}
		})
	}
}
