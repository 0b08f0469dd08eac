package state_test

import (
	"errors"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

// TestFinishSweepIsFencedAndMovesForward: only the lease's holder records
// a sweep, and only for a day after the last one; a refused record
// changes nothing.
func TestFinishSweepIsFencedAndMovesForward(t *testing.T) {
	ctx := ctxT(t)
	s, _, _ := realStore(t)
	rec := func(day string) []byte { return []byte(`{"environment":"production","day":"` + day + `"}`) }
	if err := s.FinishSweep(ctx, "production", "a", "2026-12-01", rec("2026-12-01")); !errors.Is(err, flows.ErrConflict) {
		t.Fatalf("record without the lease: %v, want a conflict", err)
	}
	if ok, err := s.ClaimSweep(ctx, "production", "a", time.Minute); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if ok, err := s.ClaimSweep(ctx, "production", "b", time.Minute); ok || err != nil {
		t.Fatalf("a second replica took the held lease: %v %v", ok, err)
	}
	if err := s.FinishSweep(ctx, "production", "a", "2026-12-01", rec("2026-12-01")); err != nil {
		t.Fatal(err)
	}
	for _, day := range []string{"2026-12-01", "2026-11-30"} {
		if err := s.FinishSweep(ctx, "production", "a", day, rec(day)); !errors.Is(err, state.ErrSwept) {
			t.Errorf("record for %s after 1 Dec: %v, want ErrSwept", day, err)
		}
	}
	for _, bad := range [][2]string{{"1 Dec", `{"day":"1 Dec"}`}, {"2026-12-02", `{"day":"2026-12-03"}`}, {"2026-12-02", `not json`}} {
		if err := s.FinishSweep(ctx, "production", "a", bad[0], []byte(bad[1])); !errors.Is(err, flows.ErrBadInput) {
			t.Errorf("record %q for %q: %v, want bad input", bad[1], bad[0], err)
		}
	}
	if raw, err := s.LastSweep(ctx, "production"); err != nil || string(raw) != string(rec("2026-12-01")) {
		t.Errorf("last sweep %s (%v), want 1 Dec's", raw, err)
	}
	if raw, err := s.LastSweep(ctx, "staging"); raw != nil || err != nil {
		t.Errorf("staging's last sweep %s (%v), want none", raw, err)
	}
	if err := s.ReleaseSweep(ctx, "production", "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.ClaimSweep(ctx, "production", "b", time.Minute); ok {
		t.Errorf("a release by a replica that does not hold the lease let it go")
	}
}
