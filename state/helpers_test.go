package state_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// t0 is the tests' fixed "now"; stored times must come back exactly.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func newStore(t testing.TB, rdb redis.UniversalClient, opt state.Options) *state.Store {
	t.Helper()
	s, err := state.New(rdb, opt)
	if err != nil {
		t.Fatalf("state.New: %v", err)
	}
	return s
}

// realStore is a Store on its own real redis-server, and a raw client of
// the same server to look behind the Store's back.
func realStore(t testing.TB) (*state.Store, *redis.Client, *redistest.Server) {
	t.Helper()
	srv := redistest.New(t)
	raw := srv.Client()
	return newStore(t, srv.Client(), state.Options{}), raw, srv
}

func testKey(i int) flows.Key {
	return flows.Key{
		Environment: flows.Production,
		APIUser:     fmt.Sprintf("api-user-%d@digital.cabinet-office.gov.uk", i),
		Application: "publishing-api",
	}
}

// newRun is a run as the engine would create it, waiting at its first
// gate, with enough in it that a lost field would show.
func newRun(id string, key flows.Key) *flows.Run {
	return &flows.Run{
		ID:              id,
		Key:             key,
		Mode:            flows.ModeRotate,
		APIUserName:     "Publisher",
		ApplicationName: "Publishing API",
		SecretName:      "signon-token-publisher-publishing-api",
		Thread:          flows.Thread{Channel: "C0ALERTS", TS: "1741944413.000100"},
		Origin:          flows.Origin{Kind: "alert", OfferID: "offer-1", Alert: flows.Thread{Channel: "C0ALERTS", TS: "1741944413.000100"}},
		StartedBy:       "U0STARTER",
		CreatedAt:       t0,
		UpdatedAt:       t0,
		Phase:           flows.PhaseWaiting,
		Step:            flows.StepIssue,
		Steps: []flows.StepState{
			{Step: flows.StepClassify, Status: flows.StepOK, StartedAt: t0, EndedAt: t0},
			{Step: flows.StepInspect, Status: flows.StepOK, StartedAt: t0, EndedAt: t0, Note: "last synced 2h ago"},
			{Step: flows.StepIssue, Status: flows.StepWaiting},
		},
		Gate: &flows.Gate{
			ID: "gate-1", Kind: flows.GateSync, OpenedAt: t0, ExpiresAt: t0.Add(time.Hour),
			Actions: []flows.Action{flows.ActionApprove, flows.ActionCancel}, NotUser: "U0STARTER",
			Prompt: "Run the sync job?",
		},
		Tokens: []flows.Token{{ID: 41, CreatedAt: t0.AddDate(-1, 0, 0), ExpiresAt: t0.AddDate(0, 0, 7),
			Fingerprint: token.FingerprintOf("old")}},
		LastSyncedAt: t0.Add(-2 * time.Hour),
		Consumers:    []flows.Consumer{{Kind: "Deployment", Name: "publisher", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"}},
		Intents:      []flows.Intent{{Effect: flows.EffectIssue, At: t0}},
		Receipts:     map[string]flows.Receipt{flows.StatusPostID: {TS: "1741944414.000200", Digest: "d1"}},
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
