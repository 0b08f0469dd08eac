package state_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// TestCorruptRecordsAreReportedAndLeftAlone covers records of another
// schema, damaged records and keys of the wrong type: each read names the
// key, and no update overwrites it.
func TestCorruptRecordsAreReportedAndLeftAlone(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	const runKey, offerKey = "stb:{stb}:run:run-1", "stb:{stb}:offer:offer-1"
	older, err := json.Marshal(newRun("run-1", testKey(1))) // schema 0: what an older bot wrote
	if err != nil {
		t.Fatal(err)
	}
	newer := strings.Replace(string(older), `"schema":0`, `"schema":2`, 1)
	for name, damage := range map[string]func(key string){
		"junk":         func(key string) { raw.Set(ctx, key, "\x00\xffnot json", 0) },
		"older schema": func(key string) { raw.Set(ctx, key, older, 0) },
		"newer schema": func(key string) { raw.Set(ctx, key, newer, 0) },
		"wrong type":   func(key string) { raw.HSet(ctx, key, "schema", 1, "version", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			raw.FlushAll(ctx)
			damage(runKey)
			before := raw.Dump(ctx, runKey).Val()
			_, err := s.Run(ctx, "run-1")
			assertCorrupt(t, "Run", err, runKey)
			run := newRun("run-1", testKey(1))
			run.Version = 1
			assertCorrupt(t, "UpdateRun", s.UpdateRun(ctx, run), runKey)
			run.Phase = flows.PhaseDone
			assertCorrupt(t, "UpdateRun to an end", s.UpdateRun(ctx, run), runKey)
			if err := s.CreateRun(ctx, newRun("run-1", testKey(1))); !errors.Is(err, flows.ErrConflict) && !isCorrupt(err) {
				t.Errorf("CreateRun over a corrupt record: %v, want ErrConflict or CorruptError", err)
			}
			if after := raw.Dump(ctx, runKey).Val(); after != before {
				t.Error("the corrupt run record was changed")
			}

			damage(offerKey)
			before = raw.Dump(ctx, offerKey).Val()
			_, err = s.Offer(ctx, "offer-1")
			assertCorrupt(t, "Offer", err, offerKey)
			o := newOffer("offer-1", "C0ALERTS", "1.1", testKey(1))
			o.Version = 1
			assertCorrupt(t, "UpdateOffer", s.UpdateOffer(ctx, o), offerKey)
			if after := raw.Dump(ctx, offerKey).Val(); after != before {
				t.Error("the corrupt offer record was changed")
			}
		})
	}
}

// TestIndexOfWrongTypeWritesNothing: a script that finds one of its keys
// damaged stops before its first write, so nothing is half-written.
func TestIndexOfWrongTypeWritesNothing(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	const active = "stb:{stb}:active"
	raw.Set(ctx, active, "not a set", 0)
	err := s.CreateRun(ctx, newRun("run-1", testKey(1)))
	assertCorrupt(t, "CreateRun", err, active)
	if ks := allKeys(t, raw); len(ks) != 1 || ks[0] != active {
		t.Fatalf("a refused CreateRun left keys %q; want only the damaged %s", ks, active)
	}
	if got := raw.Get(ctx, active).Val(); got != "not a set" {
		t.Fatalf("the damaged index was changed to %q", got)
	}
}

func assertCorrupt(t *testing.T, what string, err error, key string) {
	t.Helper()
	var ce *flows.CorruptError
	if !errors.As(err, &ce) || ce.Key != key {
		t.Errorf("%s: %v, want a CorruptError naming %s", what, err, key)
	}
}

func isCorrupt(err error) bool {
	var ce *flows.CorruptError
	return errors.As(err, &ce)
}
