package flows_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// syncedGuard fails the test if a clean-up revokes the synced token, and
// (through guard) if it revokes the superseded one while a consumer holds
// anything but the newest token.
type syncedGuard struct {
	guard
	synced atomic.Int64
}

func (g *syncedGuard) Revoke(ctx context.Context, r flows.RevokeRequest) (flows.Revoked, error) {
	if r.TokenID == g.w.renewed.ID {
		g.synced.Add(1)
		g.t.Errorf("the clean-up revoked the synced token #%d", r.TokenID)
	}
	return g.guard.Revoke(ctx, r)
}

// TestCleanupCrashAtEveryChange kills the engine after each change a
// clean-up makes and resumes it: the superseded token is revoked once,
// after verification, the synced token never, nothing is issued and no
// Job is made.
func TestCleanupCrashAtEveryChange(t *testing.T) { everyChange(t, 5, cleanupCrashRun) }

func cleanupCrashRun(t *testing.T, n int64) int64 {
	w := newWorld(t, setup{renewed: true, synced: true})
	e := newEnv(t, w)
	g := &syncedGuard{guard: guard{Signon: w.signon, t: t, w: w}}
	c := &crasher{n: n}
	final := crashPlay(t, e, g, c, flows.StartRequest{Key: key(flows.Production), Mode: flows.ModeCleanup, Actor: alice, Thread: flows.Thread{Channel: channel}})
	if final == nil {
		return c.count.Load()
	}
	if final.Phase != flows.PhaseDone {
		t.Fatalf("kill after change %d: the clean-up ended %s (%s)", n, final.Phase, final.Reason)
	}
	if !w.token(t, w.old.ID).Revoked() || w.token(t, w.renewed.ID).Revoked() {
		t.Errorf("kill after change %d: want the superseded token revoked, the synced one live", n)
	}
	if got := w.signon.TokenCount(userEmail, appName); got != 2 {
		t.Errorf("kill after change %d: %d tokens, want 2: a clean-up issues nothing", n, got)
	}
	if jobs := w.cluster.JobsCreated(); jobs != 0 {
		t.Errorf("kill after change %d: %d sync Jobs, want 0", n, jobs)
	}
	if g.early.Load() != 0 || g.synced.Load() != 0 {
		t.Errorf("kill after change %d: %d early revokes, %d of the synced token", n, g.early.Load(), g.synced.Load())
	}
	return c.count.Load()
}
