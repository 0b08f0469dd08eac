package commands

import (
	"context"
	"testing"
	"time"
)

// TestHeldRoutes checks that a click's response_url is kept for its own
// channel only, and given out at most heldRouteUses times and only while
// well inside Slack's 30 minutes, so that a later replace is not refused.
func TestHeldRoutes(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	th := &thread{}
	th.holdRoute(context.Background(), "C1", now)
	th.holdRoute(withRoute(context.Background(), "C2", "1.1", "https://hooks/elsewhere"), "C1", now)
	if _, ok := th.takeRoute("1.1", now); ok {
		t.Fatal("a route was kept without a click in its channel")
	}
	th.holdRoute(withRoute(context.Background(), "C1", "1.1", "https://hooks/r1"), "C1", now)
	for i := range heldRouteUses {
		if url, ok := th.takeRoute("1.1", now.Add(time.Minute)); !ok || url != "https://hooks/r1" {
			t.Fatalf("use %d: %q %v, want the click's URL", i+1, url, ok)
		}
	}
	if _, ok := th.takeRoute("1.1", now.Add(time.Minute)); ok {
		t.Errorf("the route was given out more than %d times", heldRouteUses)
	}
	th.holdRoute(withRoute(context.Background(), "C1", "2.2", "https://hooks/r2"), "C1", now)
	if _, ok := th.takeRoute("2.2", now.Add(heldRouteLifetime)); ok {
		t.Errorf("the route was given out %s after the click", heldRouteLifetime)
	}
	th.holdRoute(withRoute(context.Background(), "C1", "3.3", "https://hooks/r3"), "C1", now)
	th.dropRoute("3.3")
	if _, ok := th.takeRoute("3.3", now); ok {
		t.Error("a dropped route was given out")
	}
}
