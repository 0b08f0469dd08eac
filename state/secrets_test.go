package state_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// TestNoTokenPlaintextIsStored fills a run, its trail and an offer with
// everything a rotation records about three real-format tokens, and scans
// every stored byte for anything shaped like a token.
func TestNoTokenPlaintextIsStored(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	old, fresh, other := token.Generate(), token.Generate(), token.Generate()
	run := newRun("run-1", testKey(1))
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	tok := func(id int64, sec token.Secret) flows.Token {
		return flows.Token{ID: id, CreatedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Fingerprint: sec.Fingerprint()}
	}
	run.Tokens = []flows.Token{tok(43, fresh), tok(41, old), tok(40, other)}
	run.OldTokens = []flows.Token{tok(41, old)}
	nt := tok(43, fresh)
	run.NewToken = &nt
	run.Initiator = flows.Initiator{Email: "someone@digital.cabinet-office.gov.uk"}
	run.SyncJob = &flows.SyncJob{Name: "signon-sync-token-secrets-to-k8s-manual-x7k2p", CreatedAt: t0}
	run.Sync = &flows.SyncResult{Job: run.SyncJob.Name, Succeeded: true,
		SecretLines: []string{"Updated secret signon-token-publisher-publishing-api"}}
	run.Secret = flows.SecretState{Name: run.SecretName, Exists: true, Fingerprint: fresh.Fingerprint(), UpdatedAt: t0}
	run.Rollouts = []flows.Rollout{{Deployment: "publisher", Started: true, Complete: true, Replicas: 3, Ready: 3}}
	run.Checks = []flows.PodCheck{{Pod: "publisher-6d4f-abcde", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN",
		Fingerprint: fresh.Fingerprint(), Match: true}}
	run.Live = []flows.LiveCheck{{Configured: true, Passed: true, Pod: "publisher-6d4f-abcde", Command: "rails runner 'GdsApi.publishing_api.get_host_content(\"x\")'", Output: []string{"200 OK"}}}
	run.Intents = []flows.Intent{{Effect: flows.EffectIssue, At: t0, Done: true, DoneAt: t0, Result: "token 43 " + string(fresh.Fingerprint())}}
	run.Approvals = []flows.Approval{{Gate: flows.GateSync, GateID: "gate-1", Action: flows.ActionApprove, User: "U0APPROVER", At: t0}}
	run.Posts = []flows.Post{{ID: "issue", Step: flows.StepIssue, At: t0, Title: "New token issued",
		Lines: []string{"fingerprint `" + fresh.Fingerprint().Short() + "`"}, Code: []string{"token 43 created"}}}
	if err := s.UpdateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, flows.AuditEntry{RunID: "run-1", At: t0, Actor: "U0APPROVER", Action: "issue",
		Outcome: "ok", Detail: "token 43 fingerprint " + string(fresh.Fingerprint())}); err != nil {
		t.Fatal(err)
	}
	o := newOffer("offer-1", "C0ALERTS", "1.1", testKey(1))
	cur := tok(41, old)
	o.Items[0].Assessment.Current = &cur
	if err := s.CreateOffer(ctx, o); err != nil {
		t.Fatal(err)
	}
	run.Phase, run.EndedAt = flows.PhaseDone, t0.Add(time.Hour)
	if err := s.UpdateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if leaks := tokenShaped(t, raw); len(leaks) > 0 {
		t.Fatalf("token-shaped strings stored: %v", leaks)
	}

	// The scan finds a plaintext where one is put, so its silence above
	// means something.
	raw.Set(ctx, "stb:{stb}:run:canary", `{"posts":[{"lines":["token `+other.Reveal()+`"]}]}`, time.Minute)
	leaks := tokenShaped(t, raw)
	if want := "stb:{stb}:run:canary: " + string(other.Fingerprint()); len(leaks) != 1 || leaks[0] != want {
		t.Fatalf("planted plaintext: scan found %v, want [%s]", leaks, want)
	}
}

// tokenShaped scans every value of every key and returns "key:
// fingerprint" for each token-shaped string, never the string.
func tokenShaped(t *testing.T, raw *redis.Client) []string {
	t.Helper()
	ctx := ctxT(t)
	var leaks []string
	for _, k := range allKeys(t, raw) {
		var vals []string
		switch typ := raw.Type(ctx, k).Val(); typ {
		case "string":
			vals = []string{raw.Get(ctx, k).Val()}
		case "set":
			vals = raw.SMembers(ctx, k).Val()
		case "zset":
			vals = raw.ZRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range raw.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					vals = append(vals, f, fmt.Sprint(v))
				}
			}
		default:
			t.Fatalf("key %s of type %s: the scan cannot read it", k, typ)
		}
		vals = append(vals, k)
		for _, m := range token.Pattern.FindAllStringSubmatch(strings.Join(vals, "\n"), -1) {
			leaks = append(leaks, k+": "+string(token.FingerprintOf(m[1])))
		}
	}
	return leaks
}
