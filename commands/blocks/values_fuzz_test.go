package blocks_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/commands/blocks"
)

// A button's value comes back from Slack as the clicker sent it, so it is
// hostile input: these targets hold the parsers to accepting exactly what
// the renderers make. The seed corpora, in testdata/fuzz, are the values
// the bot makes and what a forger would try.

var (
	runID   = regexp.MustCompile(`^r-[a-z0-9]{1,38}$`)
	offerID = regexp.MustCompile(`^o-[a-z0-9]{1,38}$`)
	itemID  = regexp.MustCompile(`^i-[a-z0-9]{1,38}$`)
)

func FuzzParseGateValue(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		run, gate, ok := blocks.ParseGateValue(v)
		if !ok {
			if run != "" || gate != "" {
				t.Fatalf("refused %q yet returned %q, %q", v, run, gate)
			}
			return
		}
		if !runID.MatchString(run) {
			t.Fatalf("accepted %q with run id %q", v, run)
		}
		if gate == "" || len(gate) > 16 || strings.ContainsAny(gate, "|<>& ") {
			t.Fatalf("accepted %q with gate id %q", v, gate)
		}
		if again := blocks.GateValue(run, gate); again != v {
			t.Fatalf("render(parse(%q)) = %q", v, again)
		}
		r2, g2, ok := blocks.ParseGateValue(blocks.GateValue(run, gate))
		if !ok || r2 != run || g2 != gate {
			t.Fatalf("parse(render(%q, %q)) = %q, %q, %v", run, gate, r2, g2, ok)
		}
	})
}

func FuzzParseOfferValue(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		offer, item, ok := blocks.ParseOfferValue(v)
		if !ok {
			if offer != "" || item != "" {
				t.Fatalf("refused %q yet returned %q, %q", v, offer, item)
			}
			return
		}
		if !offerID.MatchString(offer) || !itemID.MatchString(item) {
			t.Fatalf("accepted %q as offer %q, item %q", v, offer, item)
		}
		if again := blocks.OfferValue(offer, item); again != v {
			t.Fatalf("render(parse(%q)) = %q", v, again)
		}
		// A gate value is never an offer value, and the other way round:
		// a value copied from one kind of button onto the other names
		// nothing.
		if _, _, ok := blocks.ParseGateValue(v); ok {
			t.Fatalf("%q parses as both an offer and a gate value", v)
		}
	})
}

// FuzzEscape holds Escape and Text to their promise: whatever came from a
// user or an alert, once escaped, cannot ping (<!channel>, <@U…>) or link
// (<https://…|label>).
func FuzzEscape(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		// Text and Plain turn flows' own @{S…} and @{t…} markup into a
		// group mention and a date (checked below); nothing else of s may
		// become Slack markup.
		own := func(out string) string { return dateIn.ReplaceAllString(groupIn.ReplaceAllString(out, ""), "") }
		for _, out := range []string{blocks.Escape(s), own(blocks.Text(s)), own(blocks.Plain(s))} {
			if strings.Contains(out, "<!") || strings.Contains(out, "<http") || strings.Contains(out, "<#") || strings.Contains(out, "<mailto") {
				t.Fatalf("escaped %q to %q", s, out)
			}
		}
		if e := blocks.Escape(s); strings.ContainsAny(e, "<>") {
			t.Fatalf("Escape(%q) = %q", s, e)
		}
		// (Text and Plain make a group mention only of flows' own markup: below.)
		// Text makes mentions only of flows' own @{U…} and @{S…} markup,
		// whole: never of a <@U…> or <!subteam^S…> that was typed.
		text := blocks.Text(s)
		mentions := mentionIn.FindAllString(text, -1)
		for _, m := range mentions {
			if !strings.Contains(s, "@{"+m[2:len(m)-1]+"}") {
				t.Fatalf("Text(%q) made the mention %s", s, m)
			}
		}
		groups := groupIn.FindAllString(text, -1)
		for _, g := range groups {
			if !strings.Contains(s, "@{"+g[len("<!subteam^"):len(g)-1]+"}") {
				t.Fatalf("Text(%q) made the group mention %s", s, g)
			}
		}
		mentions = append(mentions, groups...)
		marked := map[string]bool{}
		for _, m := range dateMarkIn.FindAllStringSubmatch(s, -1) {
			marked[strings.TrimLeft(m[1], "0")] = true
		}
		for _, d := range dateIn.FindAllStringSubmatch(text, -1) {
			if !marked[strings.TrimLeft(d[1], "0")] {
				t.Fatalf("Text(%q) made the date %s", s, d[0])
			}
			mentions = append(mentions, d[0])
		}
		if strings.Count(text, "<") != len(mentions) {
			t.Fatalf("Text(%q) = %q has a < that is not a mention", s, text)
		}
	})
}

var (
	mentionIn  = regexp.MustCompile(`<@[UW][A-Z0-9]{2,20}>`)
	groupIn    = regexp.MustCompile(`<!subteam\^S[A-Z0-9]{2,20}>`)
	dateMarkIn = regexp.MustCompile(`@\{t(\d{1,12})\}`)
	dateIn     = regexp.MustCompile(`<!date\^(\d{1,12})\^\{date_short_pretty\} \{time\}\|[^<>]*>`)
)
