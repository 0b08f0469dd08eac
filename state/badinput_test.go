package state_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	runWith := func(f func(r *flows.Run)) *flows.Run {
		r := newRun("run-1", testKey(1))
		f(r)
		return r
	}
	offer := func(f func(o *flows.Offer)) *flows.Offer {
		o := newOffer("offer-1", "C0ALERTS", "1.1", testKey(1))
		f(o)
		return o
	}
	for name, call := range map[string]func() error{
		"no run":          func() error { return s.CreateRun(ctx, nil) },
		"empty run id":    func() error { return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.ID = "" })) },
		"run id w/ space": func() error { return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.ID = "run 1" })) },
		"run id w/ brace": func() error { return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.ID = "{stb}" })) },
		"long run id":     func() error { return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.ID = strings.Repeat("a", 129) })) },
		"bad email": func() error {
			return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.Key.APIUser = "Publisher <p@example.com>" }))
		},
		"app not a slug": func() error {
			return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.Key.Application = "<!channel>" }))
		},
		"no environment": func() error { return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.Key.Environment = "" })) },
		"new run ended":  func() error { return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.Phase = flows.PhaseDone })) },
		"new run no phase": func() error {
			return s.CreateRun(ctx, runWith(func(r *flows.Run) { r.Phase = "" }))
		},
		"update never stored": func() error { return s.UpdateRun(ctx, runWith(func(r *flows.Run) { r.Version = 0 })) },
		"load bad id":         func() error { _, err := s.Run(ctx, "../x"); return err },
		"active run bad key": func() error {
			_, err := s.ActiveRun(ctx, flows.Key{Environment: "production", APIUser: "x", Application: "y"})
			return err
		},
		"thread without ts":   func() error { _, err := s.RunsInThread(ctx, "C1", ""); return err },
		"claim without owner": func() error { _, err := s.Claim(ctx, "run-1", "", time.Minute); return err },
		"claim without ttl":   func() error { _, err := s.Claim(ctx, "run-1", "me", 0); return err },
		"release bad id":      func() error { return s.Release(ctx, "", "me") },
		"audit no action":     func() error { return s.Audit(ctx, flows.AuditEntry{RunID: "run-1", At: t0}) },
		"audit no time":       func() error { return s.Audit(ctx, flows.AuditEntry{RunID: "run-1", Action: "x"}) },
		"audit no run":        func() error { return s.Audit(ctx, flows.AuditEntry{At: t0, Action: "x"}) },
		"trail bad id":        func() error { _, err := s.AuditTrail(ctx, "a:b"); return err },
		"once empty key":      func() error { _, err := s.Once(ctx, "", time.Minute); return err },
		"once huge key":       func() error { _, err := s.Once(ctx, strings.Repeat("k", 513), time.Minute); return err },
		"no offer":            func() error { return s.CreateOffer(ctx, nil) },
		"offer no alert":      func() error { return s.CreateOffer(ctx, offer(func(o *flows.Offer) { o.Alert.TS = "" })) },
		"offer bad id":        func() error { return s.CreateOffer(ctx, offer(func(o *flows.Offer) { o.ID = "o/1" })) },
		"update offer never stored": func() error {
			return s.UpdateOffer(ctx, offer(func(o *flows.Offer) { o.Version = 0 }))
		},
		"offer for alert without channel": func() error { _, err := s.OfferForAlert(ctx, "", "1.1"); return err },
		"offer for bad key": func() error {
			_, err := s.OfferForKey(ctx, flows.Key{Environment: "production"})
			return err
		},
		"load offer bad id": func() error { _, err := s.Offer(ctx, ""); return err },
	} {
		if err := call(); !errors.Is(err, flows.ErrBadInput) {
			t.Errorf("%s: %v, want ErrBadInput", name, err)
		}
	}
	if ks := allKeys(t, raw); len(ks) > 0 {
		t.Fatalf("refused calls left keys %q", ks)
	}

	for name, opt := range map[string]state.Options{
		"prefix with a brace": {Prefix: "a{b}"},
		"prefix with a space": {Prefix: "a b"},
		"negative retention":  {Retention: -time.Hour},
		"negative timeout":    {OpTimeout: -time.Second},
		"negative audit cap":  {AuditMaxLen: -1},
	} {
		if _, err := state.New(raw, opt); !errors.Is(err, flows.ErrBadInput) {
			t.Errorf("New with %s: %v, want ErrBadInput", name, err)
		}
	}
	if _, err := state.New(nil, state.Options{}); !errors.Is(err, flows.ErrBadInput) {
		t.Errorf("New without a client: %v, want ErrBadInput", err)
	}
}
