package slacktest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// TestHomeTabIsCheckedAsSlackChecksIt: views.publish takes a home view
// of at most 100 blocks for a known user, replaces the last one, refuses a
// stale hash, and says not_enabled when the app has no Home tab.
func TestHomeTabIsCheckedAsSlackChecksIt(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	section := func(s string) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, s, false, false), nil, nil)
	}
	many := func(n int) []slack.Block {
		var out []slack.Block
		for range n {
			out = append(out, section("x"))
		}
		return out
	}
	publish := func(user string, v slack.HomeTabViewRequest, hash string) (*slack.ViewResponse, error) {
		var h *string
		if hash != "" {
			h = &hash
		}
		return w.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: v, Hash: h})
	}
	home := func(blocks []slack.Block) slack.HomeTabViewRequest {
		return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
	}
	first, err := publish("U0ALICE", home(many(100)), "")
	if err != nil {
		t.Fatalf("100 blocks: %v", err)
	}
	if _, err := publish("U0ALICE", home([]slack.Block{section("second")}), ""); err != nil {
		t.Fatal(err)
	}
	if raw, ok := w.s.Home("U0ALICE"); !ok || !strings.Contains(string(raw), "second") || strings.Count(string(raw), `"type":"section"`) != 1 {
		t.Errorf("the Home tab is %s, want the second publish alone", raw)
	}
	slackErr := func(err error) string {
		var se slack.SlackErrorResponse
		if errors.As(err, &se) {
			return se.Err
		}
		return ""
	}
	if _, err := publish("U0ALICE", home([]slack.Block{section("third")}), first.View.Hash); slackErr(err) != "hash_conflict" {
		t.Errorf("a stale hash: %v, want hash_conflict", err)
	}
	if _, err := publish("U0NOBODY", home(many(1)), ""); slackErr(err) != "invalid_arguments" {
		t.Errorf("an unknown user: %v, want invalid_arguments", err)
	}
	if _, err := publish("U0ALICE", home(many(101)), ""); slackErr(err) != "invalid_arguments" {
		t.Errorf("101 blocks: %v, want invalid_arguments", err)
	}
	w.rec.expectViolation(t, "no more than 100 items")
	if _, err := publish("U0ALICE", slack.HomeTabViewRequest{Type: slack.VTModal, Blocks: slack.Blocks{BlockSet: many(1)}}, ""); slackErr(err) != "invalid_arguments" {
		t.Errorf("a modal published as home: %v, want invalid_arguments", err)
	}
	w.rec.expectViolation(t, "is not home")
	w.s.HomeTabDisabled = true
	if _, err := publish("U0BOB", home(many(1)), ""); slackErr(err) != "not_enabled" {
		t.Errorf("without a Home tab: %v, want not_enabled", err)
	}
}
