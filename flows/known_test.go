package flows

import (
	"encoding/json"
	"reflect"
	"runtime"
	"testing"
	"time"
	"weak"
)

// parkedRun is a run waiting at its sync gate as the store decodes it:
// every part is allocated afresh, as json.Unmarshal does for the engine.
func parkedRun(t *testing.T) *Run {
	t.Helper()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	run := &Run{
		Schema: Schema, ID: "r-parked", Version: 7, Mode: ModeRotate,
		Key:         Key{Environment: Production, APIUser: "content-tagger@alphagov.co.uk", Application: "publishing-api"},
		APIUserName: "Content Tagger", ApplicationName: "Publishing API", SecretName: "signon-token-content-tagger-publishing-api",
		Thread: Thread{Channel: "C0OPS", TS: "1764666000.000100"}, Origin: Origin{Kind: "alert", OfferID: "o-abc"},
		StartedBy: "U0ALICE", CreatedAt: at,
		Phase: PhaseWaiting, Step: StepSync,
		Steps: []StepState{
			{Step: StepClassify, Status: StepOK, StartedAt: at, EndedAt: at.Add(time.Second), Note: "API user Content Tagger"},
			{Step: StepIssue, Status: StepOK, Note: "token #6"},
			{Step: StepSync, Status: StepWaiting, Note: "waiting for confirmation"},
			{Step: StepRevoke, Status: StepPending},
		},
		Gate:      &Gate{ID: "g1", Kind: GateSync, Actions: []Action{ActionApprove, ActionCancel}, Prompt: "Run the sync?"},
		Tokens:    []Token{{ID: 5}},
		Consumers: []Consumer{{Kind: "Deployment", Name: "content-tagger"}, {Kind: "Deployment", Name: "content-tagger"}, {Kind: "Deployment", Name: "draft-content-tagger"}},
		NewToken:  &Token{ID: 6},
		SyncJob:   &SyncJob{Name: "sync-1", Runs: []string{"r-parked", "r-other"}},
		Intents:   []Intent{{Effect: EffectIssue, Done: true}},
		Posts:     []Post{{ID: "00-issue", Title: "Issued", Lines: []string{"New token #6"}}, {ID: "01-sync", Title: "Run the sync?", Gate: "g1"}},
		Receipts:  map[string]Receipt{StatusPostID: {TS: "1764666000.000200", Digest: "d1"}, "00-issue": {TS: "1764666000.000300", Digest: "d2"}},
	}
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	var out Run
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// The engine keeps of a parked run only what syncedWith and a lost run's
// report need: the run's gate, tokens, consumers' records, steps, intents,
// posts and their lines are collected once the run itself is dropped.
func TestRememberKeepsNoPartOfTheRun(t *testing.T) {
	e := &Engine{known: map[string]*knownRun{}}
	run := parkedRun(t)
	parts := map[string]func() bool{
		"gate":           alive(run.Gate),
		"new token":      alive(run.NewToken),
		"sync Job":       alive(run.SyncJob),
		"tokens":         alive(&run.Tokens[0]),
		"consumers":      alive(&run.Consumers[0]),
		"steps":          alive(&run.Steps[0]),
		"intents":        alive(&run.Intents[0]),
		"posts":          alive(&run.Posts[0]),
		"a post's lines": alive(&run.Posts[0].Lines[0]),
	}
	e.remember(run)
	run = nil
	runtime.GC()
	for name, alive := range parts {
		if alive() {
			t.Errorf("the engine keeps the run's %s alive", name)
		}
	}
	if len(e.known) != 1 {
		t.Fatalf("the engine knows %d runs, want 1", len(e.known))
	}
}

// alive reports whether what p points to has not been collected.
func alive[T any](p *T) func() bool {
	w := weak.Make(p)
	return func() bool { return w.Value() != nil }
}

// What the engine kept renders the run's status message as the run's own
// record would, failed, less the steps' times and notes; it shares the
// run's sync Job; an older or the same version never replaces it.
func TestKnownRunIsTheRunAsTheReportShowsIt(t *testing.T) {
	e := &Engine{known: map[string]*knownRun{}}
	run := parkedRun(t)
	e.remember(run)
	got := e.known[run.ID].ended(run.ID, "state store lost the run")
	want := &Run{
		Schema: Schema, ID: run.ID, Version: 7, Mode: ModeRotate, Key: run.Key,
		APIUserName: "Content Tagger", ApplicationName: "Publishing API",
		Thread: run.Thread, Origin: Origin{OfferID: "o-abc"}, StartedBy: "U0ALICE", CreatedAt: run.CreatedAt,
		Phase: PhaseFailed, Step: StepSync, Reason: "state store lost the run",
		Steps: []StepState{
			{Step: StepClassify, Status: StepOK}, {Step: StepIssue, Status: StepOK},
			{Step: StepSync, Status: StepWaiting}, {Step: StepRevoke, Status: StepPending},
		},
		SyncJob:   &SyncJob{Name: "sync-1"},
		Consumers: []Consumer{{Name: "content-tagger"}, {Name: "draft-content-tagger"}},
		Receipts:  map[string]Receipt{StatusPostID: {TS: "1764666000.000200", Digest: "d1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kept:\n%+v\nwant:\n%+v", got, want)
	}
	if k := e.known[run.ID]; !k.sharesJob(Production, "sync-1") || k.sharesJob(Production, "sync-2") || k.sharesJob("integration", "sync-1") {
		t.Errorf("shares sync-1 %v, sync-2 %v, integration's sync-1 %v",
			k.sharesJob(Production, "sync-1"), k.sharesJob(Production, "sync-2"), k.sharesJob("integration", "sync-1"))
	}

	older := parkedRun(t)
	older.Version, older.Step = 6, StepIssue
	e.remember(older)
	same := parkedRun(t)
	same.Step = StepVerify
	e.remember(same)
	if k := e.known[run.ID]; k.step != StepSync {
		t.Errorf("an older or the same version replaced the kept run: step %s", k.step)
	}
	newer := parkedRun(t)
	newer.Version, newer.SyncJob.Earlier = 8, true
	e.remember(newer)
	if k := e.known[run.ID]; k.version != 8 || k.sharesJob(Production, "sync-1") {
		t.Errorf("a newer version: version %d, shares a Job that started before its change %v", k.version, k.sharesJob(Production, "sync-1"))
	}
	ended := parkedRun(t)
	ended.Version, ended.Phase = 9, PhaseDone
	e.remember(ended)
	if _, ok := e.known[run.ID]; ok {
		t.Error("an ended run is still kept")
	}
}
