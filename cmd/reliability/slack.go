package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// slackTB is the fake Slack's testing.TB outside a test. The fake reports
// through Errorf a call that a real Slack would reject as malformed (the
// bot's mistake: counted), and through Fatalf a use of the fake no person
// could make (the harness's: a click on a button that went away between
// looking and clicking; the click is not delivered and the driver looks
// again).
type slackTB struct {
	// TB is nil: the fake calls only the methods below.
	testing.TB
	logf func(format string, args ...any)

	mu         sync.Mutex
	violations []string
	misuses    int
}

func (t *slackTB) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.violations = append(t.violations, fmt.Sprintf(format, args...))
}

func (t *slackTB) Fatalf(format string, args ...any) {
	t.mu.Lock()
	t.misuses++
	t.mu.Unlock()
	t.logf("fake Slack refused the harness: "+format, args...)
}

func (t *slackTB) Logf(format string, args ...any) { t.logf(format, args...) }

func (t *slackTB) Helper() {}

func (t *slackTB) Violations() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.violations)
}

// onSlackCall sees every Web API call the bot makes before the fake
// serves it. Each is a kill point: the fake still serves the call, so
// Slack has done it and the bot never learns. A post is a kill point
// before that too: the bot dies and the post never reaches Slack (an
// alert's offer recorded and never posted). The reveal modal's update,
// the one call that carries a token, must go to its requester.
func (h *harness) onSlackCall(c slacktest.Call) *slacktest.Fault {
	switch c.Method {
	case "auth.test", "apps.connections.open":
		// A process starting, not a rotation's work.
		return nil
	case "views.update":
		if isReveal(c) {
			h.checkReveal(c)
		}
	case "chat.postMessage":
		if h.killer.point("slack chat.postMessage (unsent)") {
			return &slacktest.Fault{Status: http.StatusServiceUnavailable}
		}
	}
	h.killer.point("slack " + c.Method)
	return nil
}

// isReveal: the call writes the reveal modal, which holds the token.
func isReveal(c slacktest.Call) bool {
	if c.Method != "views.update" {
		return false
	}
	var v struct {
		CallbackID string `json:"callback_id"`
	}
	return json.Unmarshal([]byte(c.Args["view"]), &v) == nil && v.CallbackID == blocks.RevealCallbackID
}

// checkReveal counts a reveal. It is misdirected if the view it writes is
// open for anyone but Alice (the only requester here); a view open for
// nobody (closed meanwhile: the fake answers not_found) shows no one.
func (h *harness) checkReveal(c slacktest.Call) {
	open := func(user string) bool {
		return slices.ContainsFunc(h.slack.OpenViews(user), func(v slacktest.View) bool { return v.ID == c.Args["view_id"] })
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fig.Reveals++
	switch {
	case open(alice):
	case open(bob):
		h.fig.MisdirectedReveals++
		h.fig.finding("leak: a reveal modal's update went to view %s, which is Bob's, not the requester's", c.Args["view_id"])
	default:
		h.fig.RevealsUnseen++
	}
}
