package blocks_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// The thread of each way a run can go, every message at every step.

func TestGoldenRotation(t *testing.T) {
	s := newScene(t, false, time.Hour)
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateSync))
	s.act(run, flows.ActionApprove, alice)
	run = s.wait(run.ID, atGate(flows.GateRevoke))
	s.act(run, flows.ActionApprove, bob)
	run = s.wait(run.ID, ended)
	golden(t, "rotation", s.signon, []*flows.Run{run}, s.thread(run.ID))
}

func TestGoldenHandOff(t *testing.T) {
	s := newScene(t, true, time.Hour)
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateHandoff))
	s.act(run, flows.ActionDelivered, alice)
	run = s.wait(run.ID, atGate(flows.GateRevoke))
	s.act(run, flows.ActionApprove, bob)
	run = s.wait(run.ID, ended)
	golden(t, "handoff", s.signon, []*flows.Run{run}, s.thread(run.ID))
}

func TestGoldenDisusedRevocation(t *testing.T) {
	s := newScene(t, true, 90*24*time.Hour)
	run := s.start(flows.ModeRevokeDisused)
	run = s.wait(run.ID, atGate(flows.GateRevokeDisused))
	s.act(run, flows.ActionApprove, bob)
	run = s.wait(run.ID, ended)
	golden(t, "disused", s.signon, []*flows.Run{run}, s.thread(run.ID))
}

func TestGoldenCancelled(t *testing.T) {
	s := newScene(t, false, time.Hour)
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateSync))
	s.act(run, flows.ActionCancel, bob)
	run = s.wait(run.ID, ended)
	golden(t, "cancelled", s.signon, []*flows.Run{run}, s.thread(run.ID))
}

func TestGoldenFailed(t *testing.T) {
	s := newScene(t, false, time.Hour)
	s.signon.Locked(func() {
		s.signon.FailNext = map[signon.Op]error{signon.OpIssue: fmt.Errorf("signon issue: %w: API user content-tagger@alphagov.co.uk is suspended", flows.ErrSuspended)}
	})
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, ended)
	golden(t, "failed", s.signon, []*flows.Run{run}, s.thread(run.ID))
}

func TestGoldenSyncFailureThenRollBack(t *testing.T) {
	s := newScene(t, false, time.Hour)
	s.cluster.FailSyncs = 1
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateSync))
	s.act(run, flows.ActionApprove, alice)
	run = s.wait(run.ID, atGate(flows.GateRecover))
	s.act(run, flows.ActionRollback, bob)
	run = s.wait(run.ID, ended)
	golden(t, "rolledback", s.signon, []*flows.Run{run}, s.thread(run.ID))
}

// A consumer keeps the old token after it rolled: the stopped post says
// which token each consumer holds, the likely cause, the deadline and what
// each button does.
func TestGoldenVerifyFailure(t *testing.T) {
	s := newScene(t, false, time.Hour)
	s.cluster.Stuck = map[string]bool{"draft-content-tagger": true}
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateSync))
	s.act(run, flows.ActionApprove, alice)
	run = s.wait(run.ID, atGate(flows.GateRecover))
	golden(t, "verifyfailed", s.signon, []*flows.Run{run}, s.thread(run.ID))
}

// Past Block Kit's limits the table summarises: 60 consumers still make
// one section of at most 3,000 characters, which says how many it left
// out and where they all stand.
func TestVerifyFailureTableFitsOneSection(t *testing.T) {
	s := newScene(t, false, time.Hour)
	secret := s.cluster.SecretName(userName, appName)
	stuck := map[string]bool{}
	for i := range 58 {
		name := fmt.Sprintf("consumer-app-with-a-long-name-%02d", i)
		s.cluster.AddDeployment(name, "app", variable, secret)
		stuck[name] = i%2 == 0
	}
	s.cluster.Stuck = stuck
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateSync))
	s.act(run, flows.ActionApprove, alice)
	run = s.wait(run.ID, atGate(flows.GateRecover))
	m := render.Post(run, run.Posts[len(run.Posts)-1])
	b, err := json.Marshal(m.Blocks[0])
	if err != nil {
		t.Fatal(err)
	}
	var sec struct{ Text struct{ Text string } }
	if err := json.Unmarshal(b, &sec); err != nil {
		t.Fatal(err)
	}
	text := sec.Text.Text
	if n := len([]rune(text)); n > 3000 {
		t.Errorf("the stopped post's section has %d characters, past Block Kit's 3,000", n)
	}
	for _, want := range []string{"Which token each consumer holds", "…and 54 more consumers; in all 31 on the new token, 29 on the old, 0 on neither, 0 not checked.", "Deadline:", "*Retry*", "*Roll back*", "*Cancel run*", "and 26 other Deployments already hold the new token"} {
		if !strings.Contains(text, want) {
			t.Errorf("the stopped post does not say %q:\n%s", want, text)
		}
	}
}

func TestGoldenGateExpires(t *testing.T) {
	s := newScene(t, false, time.Hour)
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateSync))
	s.clock.Advance(5 * time.Hour)
	if err := s.engine.Sweep(s.ctx); err != nil {
		t.Fatal(err)
	}
	run = s.wait(run.ID, func(r *flows.Run) bool { return r.Gate != nil && r.Gate.Expired })
	s.act(run, flows.ActionReopen, alice)
	run = s.wait(run.ID, func(r *flows.Run) bool { return r.Gate != nil && !r.Gate.Expired })
	golden(t, "expired", s.signon, []*flows.Run{run}, s.thread(run.ID))
}

// msg is a rendered message for a golden file.
func msg(t *testing.T, name string, v any) named {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return named{Name: name, Message: b}
}

// The offers: the assessments come from the engine over the doubles.
func TestGoldenOffers(t *testing.T) {
	s := newScene(t, false, time.Hour)
	now := s.clock.Now()
	add := func(name, email, app string, days int, lastUsed time.Duration) {
		s.signon.AddAPIUser(name, email)
		created := now.AddDate(-2, 0, days)
		s.signon.AddToken(email, app, created, now.AddDate(0, 0, days).Sub(created))
		if lastUsed > 0 {
			s.signon.SetLastSynced(email, app, now.Add(-lastUsed))
		}
	}
	s.signon.AddApplication("Whitehall")
	add("Short URL Manager", "short-url-manager@alphagov.co.uk", appName, 3, 2*time.Hour)
	add("HMRC Bot", "hmrc-bot@example.gov.uk", "Whitehall", 12, 0)
	add("Trade Tariff Admin", "trade-tariff-admin@example.gov.uk", appName, 6, time.Hour)
	add("Alice's script", "alice@digital.cabinet-office.gov.uk.invalid", appName, 8, time.Hour)
	// Signon's nightly auto-rotation made a newer token for Short URL
	// Manager already.
	s.signon.AddToken("short-url-manager@alphagov.co.uk", appName, now.Add(-8*time.Hour), 2*365*24*time.Hour)

	assess := func(env, email, app string) flows.Assessment {
		a, err := s.engine.Assess(s.ctx, flows.Key{Environment: env, APIUser: email, Application: app})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	item := func(n int, a flows.Assessment) flows.OfferItem {
		return flows.OfferItem{ID: fmt.Sprintf("i-item%d", n), Key: a.Key, Assessment: a}
	}
	offer := func(n int, env string, items ...flows.OfferItem) *flows.Offer {
		return &flows.Offer{ID: fmt.Sprintf("o-offer%d", n), Alert: flows.Thread{Channel: "C0ALERTS", TS: "1764144000.000100"},
			Environment: env, CreatedAt: now, Items: items, Messages: []string{"1764144000.000200"}}
	}
	expiring, err := s.engine.Expiring(s.ctx, flows.Production)
	if err != nil {
		t.Fatal(err)
	}
	var grouped []flows.OfferItem
	for i, a := range expiring {
		grouped = append(grouped, item(i+1, a))
	}
	var msgs []named
	add2 := func(name string, o *flows.Offer, runs map[string]*flows.Run) {
		for i, m := range render.Offer(o, runs, now) {
			msgs = append(msgs, msg(t, fmt.Sprintf("%s (page %d)", name, i+1), m))
		}
	}
	add2("one token", offer(1, flows.Production, item(1, assess(flows.Production, userEmail, appSlug))), nil)
	add2("grouped: the tokens Signon lists as expiring", offer(2, flows.Production, grouped...), nil)
	add2("renewed by Signon", offer(3, flows.Production, item(1, assess(flows.Production, "short-url-manager@alphagov.co.uk", appSlug))), nil)
	add2("disused", offer(4, flows.Production, item(1, assess(flows.Production, "hmrc-bot@example.gov.uk", "whitehall"))), nil)
	add2("special cases", offer(5, flows.Production,
		item(1, assess(flows.Production, "signon+permissions@alphagov.co.uk", "signon")),
		item(2, assess(flows.Production, "trade-tariff-admin@example.gov.uk", appSlug)),
		item(3, assess(flows.Production, "alice@digital.cabinet-office.gov.uk", appSlug)),
		item(4, assess(flows.Staging, userEmail, appSlug))), nil)
	s.signon.Locked(func() {
		s.signon.FailNext = map[signon.Op]error{signon.OpTokens: fmt.Errorf("signon tokens: %w: exec in pod signon-6f9: connection refused", flows.ErrUnavailable)}
	})
	add2("Signon did not answer", offer(6, flows.Production, item(1, assess(flows.Production, userEmail, appSlug))), nil)
	add2("nothing expiring", offer(7, flows.Production), nil)

	resolved := offer(8, flows.Production, item(1, assess(flows.Production, userEmail, appSlug)), item(2, assess(flows.Production, "short-url-manager@alphagov.co.uk", appSlug)))
	resolved.Resolved = true
	add2("resolved", resolved, nil)

	ignored := offer(9, flows.Production, item(1, assess(flows.Production, userEmail, appSlug)))
	ignored.Items[0].SetIgnore(flows.Ignore{By: bob, At: now, Reason: "HMRC rotates\nits own <!channel>"})
	add2("ignored until the alert resolves", ignored, nil)
	snoozed := offer(12, flows.Production, item(1, assess(flows.Production, userEmail, appSlug)))
	snoozed.Items[0].SetIgnore(flows.Ignore{By: bob, At: now, Until: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), Reason: "retired on 9 Dec"})
	add2("snoozed until a day", snoozed, nil)

	started := offer(10, flows.Production, item(1, assess(flows.Production, userEmail, appSlug)))
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateSync))
	started.Items[0].RunID = run.ID
	add2("a run under way", started, map[string]*flows.Run{run.ID: run})
	s.act(run, flows.ActionCancel, alice)
	run = s.wait(run.ID, ended)
	started.Items[0].RunID, started.Items[0].EndedRunID = "", run.ID
	add2("its run cancelled: Rotate is back", started, map[string]*flows.Run{run.ID: run})

	// Many tokens: pages of at most 50 blocks.
	var many []flows.OfferItem
	for i := range 20 {
		many = append(many, item(i+1, expiring[i%len(expiring)]))
	}
	pages := render.Offer(offer(11, flows.Production, many...), nil, now)
	if len(pages) != 2 {
		t.Errorf("20 tokens rendered in %d messages, want 2", len(pages))
	}
	for _, p := range pages {
		if len(p.Blocks) > blocks.MaxBlocks {
			t.Errorf("a page has %d blocks", len(p.Blocks))
		}
	}
	golden(t, "offers", s.signon, []*flows.Run{run}, msgs)
}

// The replies to alerts and the answers to /rotate-token status and list.
func TestGoldenReplies(t *testing.T) {
	s := newScene(t, false, time.Hour)
	run := s.start(flows.ModeRotate)
	run = s.wait(run.ID, atGate(flows.GateSync))
	p := flows.GOVUKPolicy()
	key := flows.Key{Environment: flows.Production, APIUser: userEmail, Application: appSlug}
	msgs := []named{
		msg(t, "staging explained", render.Explanation(flows.Staging, flows.SpecialCase{Kind: "staging", Reason: p.Environments[flows.Staging].NoRotateReason})),
		msg(t, "repeated alert", render.AlreadyHandled([]blocks.Handled{
			{Key: key, What: "rotating", Link: render.Link(run.Thread.Channel, run.Receipts[flows.StatusPostID].TS, run.Thread.TS)},
			{Key: flows.Key{Environment: flows.Production, APIUser: "hmrc-bot@example.gov.uk", Application: "whitehall"}, What: "offered", Link: render.Link("C0ALERTS", "1764144000.000200", "1764144000.000100")},
		})),
		msg(t, "alert not answered", render.Unanswered(flows.Production, "the state store did not answer")),
		msg(t, "list, nothing", render.RunList(nil)),
		msg(t, "list", render.RunList([]*flows.Run{run})),
		msg(t, "status", render.RunStatus(run)),
		msg(t, "form", blocks.StartForm([]string{flows.Integration, flows.Production}, flows.Production, `{"c":"C0OPS"}`)),
		msg(t, "reveal, fetching", blocks.RevealPending(run)),
		msg(t, "reveal, refused", blocks.RevealProblem("You may not reveal: only <@U0ALICE>, who asked for this rotation, may do this.")),
	}
	golden(t, "replies", s.signon, []*flows.Run{run}, msgs)
}
