package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/sandbox/scenario"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// demoRun runs `demo args...` as main does.
func demoRun(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	began := time.Now()
	err = demo(ctx, args, getenv(env), strings.NewReader(stdin), &out, &errOut)
	// Not a speed check (the bench measures speed): the demo's waits give
	// up after 30 s, and a play that ran into one took a wrong turn. A
	// play takes 1 to 8 s on a loaded 2-core machine under -race.
	if took := time.Since(began); took > 20*time.Second {
		t.Errorf("demo %s took %s: a wait ran into its 30 s deadline", strings.Join(args, " "), took)
	}
	noTokenShaped(t, out.String()+errOut.String())
	return out.String(), errOut.String(), err
}

// tokenShaped is what a Signon token looks like: 43 characters of
// [A-Za-z0-9_-] standing alone. The demo's names, ids and Job names have
// no capital letter; 43 random characters all but certainly have one.
var tokenShaped = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])([A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)`)

func noTokenShaped(t *testing.T, text string) {
	t.Helper()
	for _, m := range tokenShaped.FindAllStringSubmatch(text, -1) {
		if strings.ContainsAny(m[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("the demo printed something shaped like a token (%d characters of [A-Za-z0-9_-])", len(m[1]))
		}
	}
}

// inOrder checks that text holds each of want in order, runs of spaces
// counting as one.
func inOrder(t *testing.T, text string, want ...string) {
	t.Helper()
	spaces := regexp.MustCompile(`[ \t]+`)
	flat := spaces.ReplaceAllString(text, " ")
	rest := flat
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("missing (in order) %q in:\n%s", w, text)
		}
		rest = rest[i+len(w):]
	}
}

func TestDemoScenarios(t *testing.T) {
	want := map[string][]string{
		scenario.Alert: {
			"Scenario alert:", "Redis: embedded (miniredis)",
			"Prometheus Alertmanager: The following alert is firing:",
			"signon-token-bot (edited): 🔑 *A Signon API token expires soon* in production.",
			"*Content Tagger* → *Email Alert API*", "(in 9 days 6 hours)", "✅ Rotation done, started by @alice",
			"*✅ Done:* Content Tagger → Email Alert API (production)",
			"*Run the token sync job in production?*", "✅ Confirmed by @alice",
			"Live call from pod content-tagger-2-x7k2p to Email Alert API with the new token succeeded.",
			"*Revoke the old token?*", "In production someone other than @alice must confirm.", "✅ Confirmed by @bob",
			"✅ *Rotation complete: Content Tagger → Email Alert API (production)*",
			"Audit trail of run r-", "alice start ok rotate", "alice issue ok token", "alice approve ok sync",
			"bot sync ok signon-sync-token-secrets-to-k8s-", "bot verify ok 1 pods, 1 live checks",
			"bob approve ok revoke", "bob revoke ok token", "bot end done completed",
			"Content Tagger → Email Alert API: old token #", "revoked; new token #", "live, in deploy/content-tagger",
			"PASS alert: played out as designed in",
		},
		scenario.Grouped: {
			"*3 Signon API tokens expire soon* in production.",
			"*Account API* → *Publishing API*", "(in 3 days 6 hours)", "Rotation done",
			"*Feedback* → *Support API*", "(in 6 days 6 hours)", "Rotation done",
			"*Frontend* → *Asset Manager*", "(in 12 days 6 hours)", "Rotation done",
			"*✅ Batch ended:* 3 of 3 rotations done in production",
			"*Run the token sync job in production for 3 tokens?*", "✅ Confirmed by @alice",
			"*Revoke the old tokens of 3 verified rotations?*", "✅ Confirmed by @bob",
			"*Batch complete: 3 of 3 rotations done*",
			"in deploy/feedback and deploy/draft-feedback", "PASS grouped:",
		},
		scenario.RotateAll: {
			"*3 Signon API tokens expire soon* in production.",
			"*✅ Batch ended:* 3 of 3 rotations done in production",
			"*Run the token sync job in production for 3 tokens?*",
			"*Revoke the old tokens of 3 verified rotations?*",
			"*Batch complete: 3 of 3 rotations done*", "PASS rotate-all:",
		},
		scenario.AutoRenewed: {
			"Newest token expires", "Signon already has a newer token (#", "probably by its nightly auto-rotation: the bot will use it and issue none.",
			"*No sync needed*", "*Verified: every consumer holds the new token*", "✅ Confirmed by @bob",
			"*Rotation complete: Content Tagger → Email Alert API (production)*",
			"no token issued: Signon's auto-renewed #", "PASS auto-renewed:",
		},
		scenario.External: {
			"*Partner Feed* → *Content Store*", "No workload reads Secret `signon-token-partner-feed-content-store`.",
			"*Hand-off: the new token goes to a consumer outside the cluster*", "✅ Delivery confirmed by @alice",
			"*Token delivered*", "✅ Confirmed by @bob", "*Rotation complete: Partner Feed → Content Store (production)*",
			"Only alice saw: a modal \"New token\" showing new token #", "The demo does not print it.",
			"alice reveal ok token", "alice delivered ok handoff", "shown to alice alone",
			"PASS external:", "1 of them the private reveal",
		},
		scenario.VerifyFailure: {
			"*Collections* → *Email Alert API*", "↩️ Rotation rolled back, started by @alice",
			"❌ *Stopped at verify*", "Pod draft-collections-2-x7k2p (container app) holds fingerprint",
			"• deploy/draft-collections (app, `EMAIL_ALERT_API_BEARER_TOKEN`), pod draft-collections-2-x7k2p: *old* `",
			"Likely cause:", "The old token is still valid and untouched.", "Deadline: the old token #",
			"deploy/collections already holds the new token", "↩️ Rolled back by @bob",
			"↩️ *Rolled back*", "Revoked the new token #", "holds the old token", "once more", "*Rotate is back on the alert's offer*",
			"bot verify paused Pod draft-collections", "bob rollback ok recover", "bob revoke-new ok token", "bot end rolled-back",
			"still live, in deploy/collections and deploy/draft-collections", "PASS verify-failure:",
		},
		scenario.Disused: {
			"*Licence Finder* → *Publishing API*", "last checked with Signon by Publishing API 94 days ago",
			"*Revoke the disused token?*", "✅ Confirmed by @bob",
			"✅ *Disused token revoked: Licence Finder → Publishing API (production)*",
			"alice start ok revoke-disused", "bob approve ok revoke-disused",
			"disused token #", "none issued", "PASS disused:",
		},
		scenario.LegacyToken: {
			"*Whitehall* → *Asset Manager*", "ℹ️ Token #", "later than a new two-year token would",
			"so a new token would never reach the cluster: the bot changes nothing.",
			"Whitehall → Asset Manager: nothing changed", "PASS legacy-token:",
		},
		scenario.Autopilot: {
			"#govuk-signon-token-digest, the day's digest:",
			"*Daily sweep of integration* for 2026-11-26: 2 tokens expire within 30 days",
			"*Renewal failed*", "*Content Tagger* (content-tagger@alphagov.co.uk) → Email Alert API",
			"*External users*", "*Partner Feed* (feed@partner.example.com) → Content Store",
			"the thread of the batch the sweep started:", "1 of 1 rotation done in integration",
			"started by the autopilot policy of integration",
			"*Run the token sync job in integration for 1 token?*", "Passed by the autopilot policy, not by a person: the configuration `environments.integration.autopilot: full` allows it.",
			"*Revoke the old tokens of 1 verified rotation?*", "Passed by the autopilot policy",
			"policy:integration start ok rotate", "policy:integration issue ok token", "bot sync ok", "bot verify ok 1 pods",
			"policy:integration revoke ok token", "bot end done completed",
			"Content Tagger → Email Alert API: old token #", "revoked; new token #", "live, in deploy/content-tagger",
			"Partner Feed → Content Store: nothing changed", "PASS autopilot:",
		},
		scenario.Superseded: {
			"*Daily sweep of production* for 2026-11-26: 0 tokens expire within 30 days, 1 superseded token",
			"*Superseded*", "behind synced token", "[Revoke 1 superseded]",
			"the thread of the batch the sweep started:", "1 of 1 pair cleaned up in production",
			"started by the autopilot policy of production",
			"*Revoke 1 superseded token?*", "@alice @bob", "✅ Confirmed by @bob",
			"policy:production start ok clean-up", "bot verify ok 2 pods", "bob approve ok revoke", "bob revoke ok token",
			"old token #", "revoked; no token issued: Signon's auto-renewed #", "in deploy/content-tagger and deploy/draft-content-tagger",
			"PASS superseded:",
		},
	}
	for _, s := range scenario.List() {
		t.Run(s.Name, func(t *testing.T) {
			lines, ok := want[s.Name]
			if !ok {
				t.Fatalf("no expectations for scenario %s", s.Name)
			}
			out, errOut, err := demoRun(t, nil, "", "-scenario", s.Name)
			if err != nil {
				t.Fatalf("demo -scenario %s: %v\nstdout:\n%s\nstderr:\n%s", s.Name, err, out, errOut)
			}
			inOrder(t, out, lines...)
			for _, b := range []string{"[Rotate]", "[Run sync]", "[Revoke old token]", "[Reveal token]", "[Delivered]", "[Roll back]", "[Revoke token]", "[Revoke 1 superseded token]"} {
				// A rollback gives the offer its Rotate back, by design.
				if strings.Contains(out, b) && (b != "[Rotate]" || s.Name != scenario.VerifyFailure) {
					t.Errorf("the finished thread still shows %s:\n%s", b, out)
				}
			}
		})
	}
	// The grouped thread: the alert, the offer, the batch's status, its
	// two confirmations and its summary (13 bot messages and 161 lines
	// when each token was rotated alone).
	out, _, _ := demoRun(t, nil, "", "-scenario", scenario.Grouped)
	if n := strings.Count(out, "\n  > signon-token-bot"); n != 5 {
		t.Errorf("the grouped thread has %d messages of the bot's, want 5", n)
	}
	if n := strings.Count(out, "✅ Done:"); n != 0 {
		t.Errorf("the grouped thread shows %d status messages of single runs, want none: the batch's status shows them", n)
	}
}

// With REDIS_URL the demo uses that Redis, and keeps to keys of its own.
func TestDemoOnRealRedis(t *testing.T) {
	redis := redistest.New(t)
	out, errOut, err := demoRun(t, map[string]string{"REDIS_URL": "redis://" + redis.Addr()}, "", "-scenario", scenario.Grouped)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	inOrder(t, out, "Redis: REDIS_URL, keys under demo-", "that expire within the hour.", "PASS grouped:")
	keys, err := redis.Client().Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("the demo wrote nothing to REDIS_URL")
	}
	for _, k := range keys {
		if !regexp.MustCompile(`^\{?demo-[0-9a-f]{8}[:}]`).MatchString(k) {
			t.Errorf("key %q is outside the demo's own prefix", k)
		}
	}
}

func TestDemoInteractive(t *testing.T) {
	// Rotate and Run sync as Alice; a mistyped choice; Alice's refused
	// revoke (production needs a second person); Bob's.
	out, errOut, err := demoRun(t, nil, "1a\n1\n9z\n1a\n1b\n", "-interactive")
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	inOrder(t, out,
		"Buttons in the thread:", "1 [Rotate] *Content Tagger* → *Email Alert API*", "2 [Ignore]", "like 1a or 2b; q stops. >",
		"1 [Run sync] *Run the token sync job in production?*", "2 [Cancel run]",
		"1 [Revoke old token] *Revoke the old token?*",
		`"9z" is not a button: type a number from 1 to 2, then a or b`,
		"(only visible to alice)", "You may not approve",
		"No buttons are left in the thread.",
		"Audit trail of run", "alice approve denied", "bob approve ok revoke",
		"PASS alert:")
}

// A play that differs from the design exits non-zero and says how.
func TestDemoSaysWhatDiffered(t *testing.T) {
	// Bob presses Ignore, whose modal asks for a reason, and stops there.
	out, errOut, err := demoRun(t, nil, "2b\n", "-interactive")
	var mismatch *scenario.MismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("stopping at Ignore's modal: err = %v, want a MismatchError\n%s", err, out)
	}
	if !strings.Contains(err.Error(), "Content Tagger → Email Alert API: no run was started") ||
		!strings.Contains(err.Error(), "the bot created 0 sync Jobs, want 1") {
		t.Errorf("err = %v", err)
	}
	inOrder(t, out, "Where things stand now", "token #6 (fingerprint", "live; deploy/content-tagger holds token #6.", "FAIL alert: did not play out as designed")
	// A person's choice, not a fault of the bot's: its log stays out.
	if strings.Contains(errOut, "The bot's log") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestDemoFlags(t *testing.T) {
	out, _, err := demoRun(t, nil, "", "-list")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		names = append(names, strings.Fields(l)[0])
	}
	if got := strings.Join(names, " "); got != "alert grouped rotate-all auto-renewed external verify-failure disused legacy-token autopilot superseded" {
		t.Errorf("-list names %s", got)
	}

	_, _, err = demoRun(t, nil, "", "-scenario", "nope")
	var unknown *scenario.UnknownError
	if !errors.As(err, &unknown) || err.Error() != `demo: unknown scenario "nope": choose one of alert, grouped, rotate-all, auto-renewed, external, verify-failure, disused, legacy-token, autopilot, superseded` {
		t.Errorf("unknown scenario: %v", err)
	}
	if _, _, err := demoRun(t, nil, "", "-frobnicate"); err == nil || !strings.Contains(err.Error(), "flag provided but not defined: -frobnicate") {
		t.Errorf("unknown flag: %v", err)
	}
	if _, _, err := demoRun(t, nil, "", "alert"); err == nil || err.Error() != `demo: unexpected argument "alert"` {
		t.Errorf("stray argument: %v", err)
	}
}

// The demo's screen refuses to print a token, and prints nothing of what
// held it.
func TestDemoScreenRefusesTokens(t *testing.T) {
	w, err := scenario.New(scenario.Alert, &demoClock{start: demoStart, began: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	secret := w.Signon.IssuedSecrets()[0]
	var b bytes.Buffer
	s := &screen{world: w, w: &b}
	if err := s.show("fingerprint " + string(secret.Fingerprint()) + "\n"); err != nil || b.Len() == 0 {
		t.Fatalf("a fingerprint: err %v, printed %d bytes", err, b.Len())
	}
	b.Reset()
	err = s.show("the token is " + secret.Reveal() + "\n")
	var leak *LeakError
	if !errors.As(err, &leak) || leak.Fingerprints[0] != secret.Fingerprint().Short() || b.Len() != 0 {
		t.Fatalf("a token: err %v, printed %q", err, b.String())
	}
	if strings.Contains(err.Error(), secret.Reveal()) {
		t.Fatal("the leak's error holds the token")
	}
}

// getenv reads the environment from m.
func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// After a Cancel the closing summary says what Signon and the cluster
// hold, not what the scenario meant to happen: the new token is live, not
// revoked, and the consumer still holds the old one.
func TestDemoSummaryAfterCancelIsTheTruth(t *testing.T) {
	// Rotate as Alice, then Cancel run at the sync question.
	out, _, err := demoRun(t, nil, "1a\n2a\n", "-scenario", "verify-failure", "-interactive")
	if err == nil {
		t.Fatalf("a cancelled verify-failure play passed as designed:\n%s", out)
	}
	_, summary, _ := strings.Cut(out, "Where things stand now, read from Signon and the cluster:")
	if summary == "" {
		t.Fatalf("no summary read from Signon and the cluster:\n%s", out)
	}
	both := regexp.MustCompile(`in Signon, token #(\d+) \(fingerprint \w+\) live, token #\d+ \(fingerprint \w+\) live; deploy/\S+ holds token #(\d+)`)
	m := both.FindStringSubmatch(summary)
	if m == nil || m[1] == m[2] {
		t.Errorf("want both tokens live and the consumer on the old one:\n%s", summary)
	}
	if strings.Contains(summary, "revoked") || strings.Contains(out, "@{") {
		t.Errorf("the summary claims a revoke, or shows an unfilled mention:\n%s", out)
	}
}
