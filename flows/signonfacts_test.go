package flows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// Behaviours of the real Signon that a kinder double would hide.

// TestALongerLivedTokenIsExplainedAndNothingChanges: a token from before
// 10 January 2019 lives 10 years and outlives a new two-year token, so the
// sync job would keep writing it. The bot explains, naming it, and issues
// nothing.
func TestALongerLivedTokenIsExplainedAndNothingChanges(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-a", nil)
	now := w.clock.Now()
	legacy, _ := w.signon.AddToken(userEmail, appName, now.AddDate(-8, 0, 10), 10*365*24*time.Hour)
	before := w.signon.Snapshot()

	_, err := eng.Start(context.Background(), flows.StartRequest{Key: key(flows.Production), Actor: alice, Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"}})
	var refused *flows.RefusedError
	if !errors.As(err, &refused) || refused.Special.Kind != "outlived" {
		t.Fatalf("Start = %v, want the outlived explanation", err)
	}
	for _, want := range []string{fmt.Sprintf("Token #%d", legacy.ID), legacy.Fingerprint.Short(), flows.Date(legacy.ExpiresAt)} {
		if !strings.Contains(refused.Special.Reason, want) {
			t.Errorf("the explanation lacks %q: %s", want, refused.Special.Reason)
		}
	}
	if w.signon.Snapshot() != before || w.signon.Calls(signon.OpIssue) != 0 {
		t.Errorf("Signon changed or was asked to issue")
	}
	a, err := eng.Assess(context.Background(), key(flows.Production))
	if err != nil || a.Special == nil || a.Special.Kind != "outlived" || a.Current == nil || a.Current.ID != legacy.ID {
		t.Errorf("Assess = %+v, %v: want the legacy token as current and the outlived explanation", a, err)
	}
}

// TestRevokingATokenSignonDeletedAfterItExpiredIsDone: Signon's Sunday
// clean-up deletes expired tokens, revoked or not. A revoke of one the run
// listed earlier finds no token, and that is not a failure.
func TestRevokingATokenSignonDeletedAfterItExpiredIsDone(t *testing.T) {
	w := newWorld(t, setup{})
	now := w.clock.Now()
	expired, _ := w.signon.AddToken(userEmail, appName, now.AddDate(-2, 0, -1), flows.TokenLife)
	e := newEnv(t, w)
	eng, _ := e.engine("replica-a", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	w.signon.DeleteExpired()
	mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone {
		t.Fatalf("run ended %s (%s), want done", run.Phase, run.Reason)
	}
	thread := e.notifier.Transcript(run.ID)
	if want := fmt.Sprintf("Token #%d expired", expired.ID); !strings.Contains(thread, want) || !strings.Contains(thread, "removed by Signon's cleanup") {
		t.Errorf("the thread does not say token #%d was removed by Signon's cleanup:\n%s", expired.ID, thread)
	}
	set, _ := w.signon.Tokens(context.Background(), userEmail, appName)
	if cur, _ := set.SyncChoice(); cur.ID != run.NewToken.ID || len(set.Tokens) != 2 || !set.Tokens[1].Revoked() {
		t.Errorf("Signon holds %+v, want the new token live and the old one revoked", set.Tokens)
	}
}

// TestRedisLosingTheIssueStillMakesOneToken: Redis fails over to a copy
// that lost the intent, after the token was made and before the run
// recorded it, and the outage lasts longer than the intent window. Signon
// remembers the run id in its event log, so the resumed run finds its
// token instead of issuing a second one.
func TestRedisLosingTheIssueStillMakesOneToken(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	e.redis = redistest.New(t)
	st, err := state.New(e.redis.Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	var first flows.Issued
	eng, _ := e.engine("replica-a", func(p ports, _ func()) ports {
		p.signon = &forgetful{Signon: p.signon, after: func(ctx context.Context, req flows.IssueRequest, got flows.Issued) {
			first = got
			run, err := st.Run(ctx, req.RunID)
			if err != nil {
				t.Errorf("read the run: %v", err)
				return
			}
			e.redis.Flush()
			var kept []flows.Intent
			for _, in := range run.Intents {
				if in.Effect != flows.EffectIssue {
					kept = append(kept, in)
				}
			}
			run.Intents, run.Version = kept, 0
			if err := st.CreateRun(ctx, run); err != nil {
				t.Errorf("put back the run without its intent: %v", err)
			}
			w.clock.Advance(10 * time.Minute)
		}}
		return p
	})
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the pause after the lost issue", atGate(flows.GateRecover))
	mustAct(t, eng, run, flows.ActionRetry, alice)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	if got := w.signon.TokenCount(userEmail, appName); got != 2 {
		t.Fatalf("%d tokens, want 2: the old one and exactly one new one", got)
	}
	if run.NewToken == nil || run.NewToken.ID != first.Token.ID {
		t.Fatalf("the run's new token is %+v, want the one made before the loss, #%d", run.NewToken, first.Token.ID)
	}
}

// forgetful is a Signon whose first Issue succeeds in Signon and then
// reports a timeout after calling after.
type forgetful struct {
	flows.Signon
	after func(ctx context.Context, req flows.IssueRequest, got flows.Issued)
	done  bool
}

func (f *forgetful) Issue(ctx context.Context, req flows.IssueRequest) (flows.Issued, error) {
	got, err := f.Signon.Issue(ctx, req)
	if err != nil || f.done {
		return got, err
	}
	f.done = true
	f.after(ctx, req, got)
	return flows.Issued{}, fmt.Errorf("issue: %w", flows.ErrUnavailable)
}

// TestTwoSpellingsOfOneAPIUserShareOneRun: Signon matches emails case- and
// accent-insensitively, so both spellings reach one API user; the second
// request joins the first run instead of starting another on the same
// token.
func TestTwoSpellingsOfOneAPIUserShareOneRun(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-a", nil)
	run := start(t, eng, flows.ModeRotate)
	accented := key(flows.Production)
	accented.APIUser = "Contént-Tagger@alphagov.co.uk"
	again, err := eng.Start(context.Background(), flows.StartRequest{Key: accented, Actor: bob, Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"}})
	if !isA[*flows.ActiveRunError](err) || again == nil || again.ID != run.ID {
		t.Fatalf("second spelling: run %v, error %v; want the first run %s", again, err, run.ID)
	}
}

// TestSignonAPITokensAreNeverOfferedAsDisused: last_synced_at is never
// set for tokens used against Signon's own API, so its absence says
// nothing there.
func TestSignonAPITokensAreNeverOfferedAsDisused(t *testing.T) {
	w := newWorld(t, setup{})
	w.signon.AddApplication("Signon API")
	now := w.clock.Now()
	w.signon.AddToken(userEmail, "Signon API", now.AddDate(-2, 0, 9), flows.TokenLife)
	e := newEnv(t, w)
	eng, _ := e.engine("replica-a", nil)
	k := key(flows.Production)
	k.Application = "signon-api"
	a, err := eng.Assess(context.Background(), k)
	if err != nil || a.Disused || a.Current == nil {
		t.Fatalf("Assess = %+v, %v: want a current token not offered as disused", a, err)
	}
	_, err = eng.Start(context.Background(), flows.StartRequest{Key: k, Mode: flows.ModeRevokeDisused, Actor: alice, Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"}})
	if !errors.Is(err, flows.ErrBadInput) || !strings.Contains(err.Error(), "does not record use") {
		t.Fatalf("revoke-disused = %v, want a refusal saying Signon does not record use", err)
	}
}

// TestARetiredApplicationIsNotRotated: the sync job skips a retired
// application and Signon hides it from changes, so the bot explains and
// starts nothing.
func TestARetiredApplicationIsNotRotated(t *testing.T) {
	w := newWorld(t, setup{})
	w.signon.RetireApplication(appName)
	e := newEnv(t, w)
	eng, _ := e.engine("replica-a", nil)
	a, err := eng.Assess(context.Background(), key(flows.Production))
	if err != nil || !strings.Contains(a.Error, "retired") {
		t.Fatalf("Assess = %+v, %v: want it to say the application is retired", a, err)
	}
	if _, err := eng.Start(context.Background(), flows.StartRequest{Key: key(flows.Production), Actor: alice, Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"}}); err == nil || !strings.Contains(err.Error(), "retired") {
		t.Fatalf("Start = %v, want a refusal naming the retirement", err)
	}
	if n := w.signon.Calls(signon.OpIssue); n != 0 {
		t.Errorf("Signon was asked to issue %d times", n)
	}
}
