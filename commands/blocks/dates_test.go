package blocks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

func TestTimesUseSlackDateFormattingWithAUTCFallback(t *testing.T) {
	at := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	want := "<!date^" + "1796482800" + "^{date_short_pretty} {time}|5 Dec 2026 15:00 UTC>"
	if got := blocks.Text("Expires " + flows.When(at) + "."); got != "Expires "+want+"." {
		t.Errorf("Text = %q, want the date token %q", got, want)
	}
	if got := blocks.Date(at); got != want {
		t.Errorf("Date = %q, want %q", got, want)
	}
	// A notification's text shows the fallback alone.
	if got := blocks.Plain("Expires " + flows.When(at)); got != "Expires 5 Dec 2026 15:00 UTC" {
		t.Errorf("Plain = %q", got)
	}
}

func TestUntrustedTextCannotForgeADate(t *testing.T) {
	for _, in := range []string{
		"<!date^1796482800^{date}^https://evil.example|5 Dec>",
		flows.Untrusted("event at @{t1796482800}"),
		flows.Untrusted(flows.When(time.Unix(1796482800, 0))),
	} {
		if got := blocks.Text(in); strings.Contains(got, "<!date") {
			t.Errorf("Text(%q) = %q: untrusted text made a date token", in, got)
		}
	}
}
