package state_test

import (
	"errors"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

func TestSnoozesHoldUntilTheirDay(t *testing.T) {
	s, rdb, _ := realStore(t)
	ctx := ctxT(t)
	a, b := testKey(1), testKey(2)
	day := t0.Add(72 * time.Hour)
	for _, ig := range []flows.Ignore{
		{Key: a, By: "U0ALICE", At: t0, Until: day, Reason: "retired"},
		{Key: b, By: "U0BOB", At: t0, Until: t0.Add(time.Hour), Reason: "soon"},
	} {
		if err := s.SetIgnore(ctx, ig); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Ignores(ctx, a.Environment, t0)
	if err != nil || len(got) != 2 || got[a].Reason != "retired" || !got[a].Until.Equal(day) {
		t.Fatalf("snoozes at t0: %+v (%v)", got, err)
	}
	// Past b's day it is left out, and forgotten.
	if got, err = s.Ignores(ctx, a.Environment, t0.Add(2*time.Hour)); err != nil || len(got) != 1 || got[a].By != "U0ALICE" {
		t.Fatalf("snoozes after b's day: %+v (%v)", got, err)
	}
	if n, _ := rdb.HLen(ctx, "stb:{stb}:ignores:"+a.Environment).Result(); n != 1 {
		t.Errorf("the hash keeps %d fields, want 1", n)
	}
	if err := s.ClearIgnore(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Ignores(ctx, a.Environment, t0); len(got) != 0 {
		t.Errorf("after ClearIgnore: %+v", got)
	}
	// A snooze needs a day and a person; a bad key changes nothing.
	for _, ig := range []flows.Ignore{{Key: a, By: "U0ALICE"}, {Key: a, Until: day}, {Key: flows.Key{Environment: "production", APIUser: "not an email"}, By: "U0ALICE", Until: day}} {
		if err := s.SetIgnore(ctx, ig); !errors.Is(err, flows.ErrBadInput) {
			t.Errorf("SetIgnore(%+v): %v, want bad input", ig, err)
		}
	}
	// A corrupt field is reported, not skipped.
	rdb.HSet(ctx, "stb:{stb}:ignores:"+a.Environment, "x", "{")
	if _, err := s.Ignores(ctx, a.Environment, t0); !errors.As(err, new(*flows.CorruptError)) {
		t.Errorf("a corrupt snooze: %v", err)
	}
}
