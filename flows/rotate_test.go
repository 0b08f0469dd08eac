package flows_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// tokens returns the API user's tokens in Signon, newest first.
func (w *world) tokens(t *testing.T) []flows.Token {
	t.Helper()
	ts, err := w.signon.Tokens(context.Background(), userEmail, appName)
	if err != nil {
		t.Fatal(err)
	}
	return ts.Tokens
}

func (w *world) token(t *testing.T, id int64) flows.Token {
	t.Helper()
	for _, tk := range w.tokens(t) {
		if tk.ID == id {
			return tk
		}
	}
	t.Fatalf("no token %d", id)
	return flows.Token{}
}

func TestRotateInternalConsumer(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	if run.NewToken == nil || run.NewTokenExisting {
		t.Fatalf("at the sync gate the run should have issued a token: %+v", run.NewToken)
	}
	if got := w.signon.TokenCount(userEmail, appName); got != 2 {
		t.Fatalf("tokens after issue = %d, want 2", got)
	}
	if w.cluster.JobsCreated() != 0 {
		t.Fatal("the sync ran before its confirmation")
	}
	if _, err := act(t, eng, run, flows.ActionApprove, mallory); !isA[*flows.DeniedError](err) {
		t.Fatalf("Mallory's click: err = %v, want DeniedError", err)
	}
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))

	newFP := run.NewToken.Fingerprint
	for _, dep := range []string{"content-tagger", "draft-content-tagger"} {
		if got := w.cluster.PodFingerprint(dep, variable); got != newFP {
			t.Errorf("%s holds %s, want the new token %s", dep, got, newFP)
		}
	}
	if w.token(t, w.old.ID).Revoked() {
		t.Fatal("old token revoked before the revoke gate was passed")
	}
	if len(run.Checks) != 2 {
		t.Errorf("pod checks = %d, want 2", len(run.Checks))
	}
	// Production wants a second person for the revoke.
	if _, err := act(t, eng, run, flows.ActionApprove, alice); !isA[*flows.DeniedError](err) {
		t.Fatalf("starter approving the production revoke: err = %v, want DeniedError", err)
	}
	run = mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)

	if run.Phase != flows.PhaseDone {
		t.Fatalf("phase = %s (%s), want done", run.Phase, run.Reason)
	}
	if !w.token(t, w.old.ID).Revoked() || w.token(t, run.NewToken.ID).Revoked() {
		t.Fatal("want the old token revoked and the new one live")
	}
	if n := w.cluster.JobsCreated(); n != 1 {
		t.Errorf("sync Jobs = %d, want 1", n)
	}
	if _, err := w.signon.Tokens(context.Background(), userEmail, appName); err != nil {
		t.Fatal(err)
	}
	// A finished run frees its key.
	if _, err := e.store.ActiveRun(context.Background(), key(flows.Production)); !errors.Is(err, flows.ErrRunNotFound) {
		t.Errorf("active run after the end: %v", err)
	}
	transcript := e.notifier.Transcript(run.ID)
	for _, want := range []string{"Issued a new token", "Synced the token into Kubernetes", "Verified", "Revoked the old token", "Rotation complete", "approve by U0ALICE", "approve by U0BOB"} {
		if !strings.Contains(transcript, want) {
			t.Errorf("thread lacks %q:\n%s", want, transcript)
		}
	}
	trail, err := eng.AuditTrail(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	// People's entries and the bot's each come in order; a click's entry
	// and the first step it lets run are written by different goroutines,
	// so with instant doubles they may come either way round.
	var people, bot []string
	for _, a := range trail {
		e := a.Actor + ":" + a.Action + ":" + a.Outcome
		if a.Actor == "bot" {
			bot = append(bot, e)
		} else {
			people = append(people, e)
		}
	}
	for _, c := range []struct{ got, want string }{
		{strings.Join(people, " "), "U0ALICE:start:ok U0ALICE:issue:ok U0MALLORY:approve:denied U0ALICE:approve:ok U0ALICE:approve:denied U0BOB:approve:ok U0BOB:revoke:ok"},
		{strings.Join(bot, " "), "bot:sync:ok bot:verify:ok bot:end:done"},
	} {
		if c.got != c.want {
			t.Errorf("audit trail:\n got %s\nwant %s", c.got, c.want)
		}
	}
	noPlaintext(t, w, transcript)
}

// noPlaintext fails if any token the double made appears in text.
func noPlaintext(t *testing.T, w *world, text string) {
	t.Helper()
	for _, s := range w.signon.IssuedSecrets() {
		if strings.Contains(text, s.Reveal()) {
			t.Fatalf("a token's plaintext (fingerprint %s) leaked", s.Fingerprint())
		}
	}
}

func TestAutoRenewedTokenIsUsedNotIssued(t *testing.T) {
	t.Run("already synced", func(t *testing.T) {
		w := newWorld(t, setup{renewed: true, synced: true})
		e := newEnv(t, w)
		eng, _ := e.engine("replica-1", nil)
		run := start(t, eng, flows.ModeRotate)
		run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
		if !run.NewTokenExisting || run.NewToken.ID != w.renewed.ID {
			t.Fatalf("new token = %+v, want the auto-renewed #%d", run.NewToken, w.renewed.ID)
		}
		if st, _ := run.StepState(flows.StepSync); st.Status != flows.StepSkipped {
			t.Errorf("sync = %s, want skipped: the Secret holds the new token already", st.Status)
		}
		if w.signon.Calls("issue") != 0 || w.cluster.JobsCreated() != 0 {
			t.Errorf("issue calls = %d, jobs = %d; want none", w.signon.Calls("issue"), w.cluster.JobsCreated())
		}
		run = mustAct(t, eng, run, flows.ActionApprove, bob)
		run = waitFor(t, eng, run.ID, "the end", ended)
		if run.Phase != flows.PhaseDone || !w.token(t, w.old.ID).Revoked() {
			t.Fatalf("phase %s, old revoked %v", run.Phase, w.token(t, w.old.ID).Revoked())
		}
	})
	t.Run("not synced yet", func(t *testing.T) {
		w := newWorld(t, setup{renewed: true})
		e := newEnv(t, w)
		eng, _ := e.engine("replica-1", nil)
		run := start(t, eng, flows.ModeRotate)
		run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
		if st, _ := run.StepState(flows.StepIssue); st.Status != flows.StepSkipped {
			t.Errorf("issue = %s, want skipped", st.Status)
		}
		run = mustAct(t, eng, run, flows.ActionApprove, alice)
		run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
		if w.signon.TokenCount(userEmail, appName) != 2 {
			t.Fatalf("tokens = %d, want 2: none issued", w.signon.TokenCount(userEmail, appName))
		}
		if got := w.cluster.PodFingerprint("content-tagger", variable); got != w.renewed.Fingerprint {
			t.Fatalf("pod holds %s, want the renewed token %s", got, w.renewed.Fingerprint)
		}
	})
}

func TestExternalConsumerHandOff(t *testing.T) {
	w := newWorld(t, setup{external: true})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the hand-off", atGate(flows.GateHandoff))
	if run.Gate.OnlyUser != alice {
		t.Fatalf("hand-off belongs to %q, want the requester", run.Gate.OnlyUser)
	}
	if _, err := act(t, eng, run, flows.ActionReveal, bob); !isA[*flows.DeniedError](err) {
		t.Fatalf("Bob revealing Alice's token: err = %v, want DeniedError", err)
	}
	if len(e.revealer.Revealed()) != 0 {
		t.Fatal("a refused reveal revealed")
	}
	if _, err := act(t, eng, run, flows.ActionReveal, alice); err != nil {
		t.Fatal(err)
	}
	got := e.revealer.Revealed()
	if len(got) != 1 || got[0].Fingerprint != run.NewToken.Fingerprint || got[0].Handle != "modal-1" {
		t.Fatalf("revealed %+v, want the new token once to Alice's modal", got)
	}
	if w.signon.TokenCount(userEmail, appName) != 2 {
		t.Fatalf("revealing made a token: %d", w.signon.TokenCount(userEmail, appName))
	}
	run = mustAct(t, eng, run, flows.ActionDelivered, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if st, _ := run.StepState(flows.StepSync); st.Step != "" {
		t.Errorf("an external run has a sync step: %+v", st)
	}
	run = mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone || !w.token(t, w.old.ID).Revoked() || w.cluster.JobsCreated() != 0 {
		t.Fatalf("phase %s, old revoked %v, jobs %d", run.Phase, w.token(t, w.old.ID).Revoked(), w.cluster.JobsCreated())
	}
	noPlaintext(t, w, e.notifier.Transcript(run.ID))
}

func TestRevokeDisused(t *testing.T) {
	w := newWorld(t, setup{lastUsed: 60 * 24 * time.Hour})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRevokeDisused)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevokeDisused))
	if w.token(t, w.old.ID).Revoked() {
		t.Fatal("revoked before confirmation")
	}
	run = mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone || !w.token(t, w.old.ID).Revoked() {
		t.Fatalf("phase %s, revoked %v", run.Phase, w.token(t, w.old.ID).Revoked())
	}
	if w.signon.TokenCount(userEmail, appName) != 1 || w.cluster.JobsCreated() != 0 {
		t.Fatal("revoking a disused token issued or synced")
	}
}

func TestRevokeDisusedRefusesAUsedToken(t *testing.T) {
	w := newWorld(t, setup{lastUsed: 2 * time.Hour})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	_, err := eng.Start(context.Background(), flows.StartRequest{Key: key(flows.Production), Mode: flows.ModeRevokeDisused, Actor: alice, Thread: flows.Thread{Channel: channel}})
	if !errors.Is(err, flows.ErrBadInput) || !strings.Contains(err.Error(), "not disused") {
		t.Fatalf("err = %v, want a refusal saying it is not disused", err)
	}
	if _, err := e.store.ActiveRun(context.Background(), key(flows.Production)); !errors.Is(err, flows.ErrRunNotFound) {
		t.Fatal("a refused start left a run")
	}
}

func TestRefusals(t *testing.T) {
	w := newWorld(t, setup{})
	w.signon.AddAPIUser("Trade Tariff Admin", "trade-tariff-admin@example.gov.uk")
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	before := w.signon.Snapshot()
	for _, tc := range []struct {
		name  string
		key   flows.Key
		actor string
		check func(error) bool
	}{
		{"staging", flows.Key{Environment: flows.Staging, APIUser: userEmail, Application: appSlug}, alice, isA[*flows.RefusedError]},
		{"self-rotating", flows.Key{Environment: flows.Production, APIUser: "signon+permissions@alphagov.co.uk", Application: "signon"}, alice, isA[*flows.RefusedError]},
		{"other team", flows.Key{Environment: flows.Production, APIUser: "trade-tariff-admin@example.gov.uk", Application: appSlug}, alice, isA[*flows.RefusedError]},
		{"unknown environment", flows.Key{Environment: "preview", APIUser: userEmail, Application: appSlug}, alice, func(err error) bool { return errors.Is(err, flows.ErrBadInput) }},
		{"not an email", flows.Key{Environment: flows.Production, APIUser: "content-tagger", Application: appSlug}, alice, func(err error) bool { return errors.Is(err, flows.ErrBadInput) }},
		{"mrkdwn in email", flows.Key{Environment: flows.Production, APIUser: "<!channel>@x.com", Application: appSlug}, alice, func(err error) bool { return errors.Is(err, flows.ErrBadInput) }},
		{"unknown user", flows.Key{Environment: flows.Production, APIUser: "nobody@alphagov.co.uk", Application: appSlug}, alice, func(err error) bool { return errors.Is(err, flows.ErrUnknownAPIUser) }},
		{"unknown application", flows.Key{Environment: flows.Production, APIUser: userEmail, Application: "no-such-app"}, alice, func(err error) bool { return errors.Is(err, flows.ErrUnknownApplication) }},
		{"unauthorised", key(flows.Production), mallory, isA[*flows.DeniedError]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eng.Start(context.Background(), flows.StartRequest{Key: tc.key, Actor: tc.actor, Thread: flows.Thread{Channel: channel}})
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
		})
	}
	if after := w.signon.Snapshot(); after != before {
		t.Errorf("a refused start changed Signon:\n%s\n%s", before, after)
	}
	if runs, err := e.store.ActiveRuns(context.Background()); err != nil || len(runs) != 0 {
		t.Errorf("active runs after refusals: %d (%v)", len(runs), err)
	}
}

func TestSecondStartJoinsTheActiveRun(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	first := start(t, eng, flows.ModeRotate)
	again, err := eng.Start(context.Background(), flows.StartRequest{Key: key(flows.Production), Actor: bob, Thread: flows.Thread{Channel: channel}})
	var active *flows.ActiveRunError
	if !errors.As(err, &active) || active.RunID != first.ID || again.ID != first.ID {
		t.Fatalf("second start: run %v, err %v; want the first run %s", again, err, first.ID)
	}
}
