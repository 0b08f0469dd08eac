package commands_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// With Signon's cluster unreachable, the offer used to quote the whole
// error chain, address and URL included, into the alert channel. Now it
// says what failed plainly and what to do, and quotes an id under which
// the log holds the details.
func TestChannelSaysWhatFailedPlainly(t *testing.T) {
	w := newWorld(t, worldSetup{})
	chain := fmt.Errorf(`signon tokens: %w: could not run rails runner: get deployment apps/signon: Get "https://127.0.0.1:1/apis/apps/v1": dial tcp 127.0.0.1:1: connect: connection refused`, flows.ErrUnavailable)
	w.signon.Locked(func() { w.signon.FailNext = map[signon.Op]error{signon.OpTokens: chain} })
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	thread := w.fake.Transcript(alerts, alertTS)
	for _, internal := range []string{"127.0.0.1", "https://", "dial tcp", "rails runner", "apps/signon"} {
		if strings.Contains(thread, internal) {
			t.Errorf("the channel shows %q:\n%s", internal, thread)
		}
	}
	m := regexp.MustCompile(`Signon did not answer \(error (e-[a-z0-9]+); the details are in the bot's logs\)`).FindStringSubmatch(thread)
	if m == nil {
		t.Fatalf("the offer does not say plainly what failed:\n%s", thread)
	}
	wantInOrder(t, thread, "Once that is fixed, start the rotation with")
	if logs := w.logs.String(); !strings.Contains(logs, "error_id="+m[1]) || !strings.Contains(logs, "127.0.0.1:1") {
		t.Errorf("the log does not hold error %s with its details:\n%s", m[1], logs)
	}
}
