package blocks_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// batchRun is a member run in a given state, made by hand: the renderer
// reads only what the engine records.
func batchRun(i int, b *flows.Batch, phase flows.Phase, step flows.Step) *flows.Run {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r := &flows.Run{
		ID: fmt.Sprintf("r-batchrun%03d", i), Batch: b.ID, Phase: phase, Step: step, StartedBy: alice,
		Key:         flows.Key{Environment: flows.Production, APIUser: fmt.Sprintf("api-user-%03d@alphagov.co.uk", i), Application: "publishing-api"},
		APIUserName: fmt.Sprintf("API User %03d", i), ApplicationName: "Publishing API",
		OldTokens: []flows.Token{{ID: int64(1000 + i), Fingerprint: token.Fingerprint(fmt.Sprintf("%08x", 0x10000000+i)), ExpiresAt: now.AddDate(0, 0, 9)}},
		NewToken:  &flows.Token{ID: int64(2000 + i), Fingerprint: token.Fingerprint(fmt.Sprintf("%08x", 0x20000000+i)), ExpiresAt: now.AddDate(2, 0, 0)},
	}
	switch {
	case phase == flows.PhaseWaiting && step == flows.StepSync:
		r.Gate = &flows.Gate{ID: "g" + fmt.Sprint(i), Kind: flows.GateSync, Batch: b.ID}
	case phase == flows.PhaseWaiting && step == flows.StepRevoke:
		r.Gate = &flows.Gate{ID: "g" + fmt.Sprint(i), Kind: flows.GateRevoke, Batch: b.ID}
	case phase == flows.PhasePaused:
		r.Detached = true
		r.Gate = &flows.Gate{ID: "g" + fmt.Sprint(i), Kind: flows.GateRecover, Prompt: "What next?"}
	case phase == flows.PhaseRolledBack:
		r.Reason = "rolled back"
	}
	return r
}

func TestGoldenBatch(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	b := &flows.Batch{ID: "b-goldenbatch", Environment: flows.Production, StartedBy: alice, CreatedAt: now, Thread: flows.Thread{Channel: "C0ALERTS", TS: "1764144000.000100"}}
	runs := []*flows.Run{
		batchRun(1, b, flows.PhaseRunning, flows.StepIssue),
		batchRun(2, b, flows.PhaseWaiting, flows.StepSync),
		batchRun(3, b, flows.PhaseWaiting, flows.StepRevoke),
		batchRun(4, b, flows.PhasePaused, flows.StepVerify),
		batchRun(5, b, flows.PhaseDone, flows.StepDone),
		batchRun(6, b, flows.PhaseRolledBack, flows.StepDone),
	}
	var msgs []named
	add := func(name string, ms []blocks.Message) {
		for i, m := range ms {
			msgs = append(msgs, msg(t, fmt.Sprintf("%s, page %d of %d", name, i+1, len(ms)), m))
		}
	}
	add("status, starting", render.BatchStatus(b, nil))
	add("status, every state", render.BatchStatus(b, runs))
	sync := flows.Post{ID: "00-sync", Step: flows.StepSync, Title: "Run the token sync job in production for 2 tokens?", Gate: "gsync",
		Lines: []string{"This creates a Job from CronJob `signon-sync-token-secrets-to-k8s` in namespace `apps` (production).", "• API User 001 → Publishing API (production): Secret `signon-token-api-user-001-publishing-api`, read by deploy/a"}}
	b.Gate, b.Covers = &flows.Gate{ID: "gsync", Kind: flows.GateSync}, []string{runs[0].ID, runs[1].ID}
	add("sync confirmation, open", render.BatchPost(b, sync))
	b.Gate, b.Covers = nil, nil
	b.Passed = []flows.BatchApproval{{Gate: flows.GateSync, GateID: "gsync", Action: flows.ActionApprove, User: alice, At: now, Runs: []string{runs[0].ID, runs[1].ID}}}
	add("sync confirmation, answered", render.BatchPost(b, sync))
	revoke := flows.Post{ID: "01-revoke", Step: flows.StepRevoke, Title: "Revoke the old tokens of 2 verified rotations?", Gate: "grevoke",
		Lines: []string{"• API User 001 → Publishing API (production): revokes #1001 (fingerprint `10000001`); keeps #2001 (fingerprint `20000001`)", "In production someone other than @{U0ALICE} must confirm."}}
	b.Gate, b.Covers = &flows.Gate{ID: "grevoke", Kind: flows.GateRevoke, NotUser: alice}, []string{runs[0].ID, runs[1].ID}
	add("revoke confirmation, open", render.BatchPost(b, revoke))
	cleanup := flows.Post{ID: "01-revoke", Step: flows.StepRevoke, Title: "Revoke 3 superseded tokens?", Gate: "grevoke",
		Lines: []string{"• API User 001 → Publishing API (production): revokes #1001 (fingerprint `10000001`), #1002 (fingerprint `10000002`); keeps #2001 (fingerprint `20000001`)",
			"Not revoked, listed apart (1 pair):", "• API User 003 → Publishing API (production): Pod a-1-x7k2p (container app) holds fingerprint 10000003 in PUBLISHING_API_BEARER_TOKEN, not the new token's 20000003."}}
	add("clean-up revoke confirmation, open", render.BatchPost(b, cleanup))
	b.Gate, b.Covers, b.Ended = nil, nil, true
	add("status, ended", render.BatchStatus(b, runs))

	// 200 tokens: sections of at most 3,000 characters, in one message.
	var many []*flows.Run
	for i := range 200 {
		many = append(many, batchRun(i+1, b, flows.PhaseWaiting, flows.StepSync))
	}
	b.Ended = false
	pages := render.BatchStatus(b, many)
	checkLimits(t, pages)
	if len(pages) != 1 {
		t.Errorf("200 tokens' status took %d messages, want 1", len(pages))
	}
	add("status, 200 tokens", pages)
	golden(t, "batch", signontest.New(&flowstest.Clock{}), nil, msgs)
}

// checkLimits fails if a message breaks Block Kit's limits.
func checkLimits(t *testing.T, ms []blocks.Message) {
	t.Helper()
	for i, m := range ms {
		if len(m.Blocks) > blocks.MaxBlocks {
			t.Errorf("page %d has %d blocks", i+1, len(m.Blocks))
		}
		for _, bl := range m.Blocks {
			if s, ok := bl.(*slack.SectionBlock); ok && s.Text != nil && len([]rune(s.Text.Text)) > 3000 {
				t.Errorf("page %d has a section of %d characters", i+1, len([]rune(s.Text.Text)))
			}
		}
	}
}

// Past 50 blocks a message becomes pages, as few as the limits allow,
// with the buttons on the last.
func TestBatchPostPages(t *testing.T) {
	b := &flows.Batch{ID: "b-pages", Environment: flows.Production, Gate: &flows.Gate{ID: "gbig", Kind: flows.GateRevoke}}
	var lines []string
	for i := range 1500 {
		lines = append(lines, fmt.Sprintf("• API User %04d → Publishing API (production): revokes #%d (fingerprint `%08x`); keeps #%d (fingerprint `%08x`)", i, i, i, i+5000, i+5000))
	}
	total := len(strings.Join(lines, "\n"))
	pages := render.BatchPost(b, flows.Post{ID: "00-revoke", Title: "Revoke?", Gate: "gbig", Lines: lines})
	checkLimits(t, pages)
	// Each section holds at most 3,000 characters; a page, at most 50 blocks.
	least := (total/3000 + 1 + 2) / blocks.MaxBlocks
	if len(pages) < 2 || len(pages) > least+1 {
		t.Errorf("%d characters took %d pages, want at most %d", total, len(pages), least+1)
	}
	last, _ := json.Marshal(pages[len(pages)-1])
	if !strings.Contains(string(last), blocks.ActionBatchApprove+":gbig") {
		t.Error("the buttons are not on the last page")
	}
	for _, p := range pages[:len(pages)-1] {
		if j, _ := json.Marshal(p); strings.Contains(string(j), "batch.approve") {
			t.Error("buttons on a page that is not the last")
		}
	}
	seen := 0
	for _, p := range pages {
		j, _ := json.Marshal(p)
		seen += strings.Count(string(j), "API User ")
	}
	if seen != len(lines) {
		t.Errorf("the pages show %d of %d lines", seen, len(lines))
	}
}
