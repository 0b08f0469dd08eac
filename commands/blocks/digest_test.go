package blocks_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

const day = 24 * time.Hour

// sweepReport is a sweep of production on 26 Nov 2026 at 09:00 with a
// token in each group, a renewal's leftover and a run under way.
func sweepReport(t *testing.T, within time.Duration) (*daily.Report, *signontest.Signon) {
	t.Helper()
	clock := &flowstest.Clock{}
	s := signontest.New(clock)
	now := clock.Now()
	for _, u := range [][2]string{{"Content Tagger", userEmail}, {"Partner Feed", "feed@partner.example.com"},
		{"Trade Tariff Admin", "trade-tariff-admin@alphagov.co.uk"}, {"Short URL Manager", "short-url-manager@alphagov.co.uk"}, {"Whitehall", "whitehall@alphagov.co.uk"}} {
		s.AddAPIUser(u[0], u[1])
	}
	for _, a := range []string{appName, "Content Store", "Search API"} {
		s.AddApplication(a)
	}
	s.AddToken(userEmail, appName, now.Add(9*day-flows.TokenLife), flows.TokenLife)
	s.AddToken("feed@partner.example.com", "Content Store", now.Add(20*day+12*time.Hour-flows.TokenLife), flows.TokenLife)
	s.SetLastSynced("feed@partner.example.com", "Content Store", now.Add(-3*time.Hour))
	s.AddToken("trade-tariff-admin@alphagov.co.uk", "Search API", now.Add(12*day-flows.TokenLife), flows.TokenLife)
	s.AddToken("short-url-manager@alphagov.co.uk", appName, now.Add(-700*day), flows.TokenLife)
	s.AddToken("short-url-manager@alphagov.co.uk", appName, now.Add(-8*time.Hour), flows.TokenLife)
	s.AddToken("whitehall@alphagov.co.uk", "Search API", now.Add(45*day-flows.TokenLife), flows.TokenLife)
	est, err := s.Estate(t.Context(), max(within, 60*day))
	if err != nil {
		t.Fatal(err)
	}
	sched, err := daily.ParseSchedule("02:00")
	if err != nil {
		t.Fatal(err)
	}
	run := &flows.Run{ID: "r-run1", Key: flows.Key{Environment: "production", APIUser: "content-tagger@alphagov.co.uk", Application: appSlug},
		Step: flows.Step("verify"), Thread: flows.Thread{Channel: "C0ALERTS", TS: "1764147600.000100"},
		Receipts: map[string]flows.Receipt{flows.StatusPostID: {TS: "1764147601.000200"}}}
	other := &flows.Run{ID: "r-run2", Key: flows.Key{Environment: "staging"}}
	cfg := daily.Config{Environment: "production", Schedule: sched, Within: within, HomeWithin: 60 * day,
		Rules: daily.Rules{OtherTeam: []string{"Trade Tariff Admin"}}}
	return daily.Build(cfg, est, []*flows.Run{run, other}, now), s
}

// digestGolden compares a message with testdata/name.golden, fingerprints
// named by their token.
func digestGolden(t *testing.T, name string, s *signontest.Signon, rep *daily.Report, m blocks.Message) {
	t.Helper()
	text := blocksJSON(t, m)
	for _, p := range rep.Pairs {
		for _, tk := range append([]flows.Token{p.Token}, p.Superseded...) {
			text = strings.ReplaceAll(text, string(tk.Fingerprint), fmt.Sprintf("fp-of-token-%d", tk.ID))
		}
	}
	golden(t, name, s, nil, []named{{Name: m.Text, Message: json.RawMessage(text)}})
}

func TestDigestGolden(t *testing.T) {
	rep, s := sweepReport(t, 30*day)
	m, ok := render.Digest(rep, false)
	if !ok {
		t.Fatal("no digest for a sweep with work in it")
	}
	digestGolden(t, "digest", s, rep, m)

	wide, _ := sweepReport(t, 60*day)
	if m, _ := render.Digest(wide, true); !strings.Contains(blocksJSON(t, m), "Renewal ahead") {
		t.Errorf("a 60-day digest leaves out the internal token 45 days off")
	}
}

func TestDigestWithNothingToReport(t *testing.T) {
	rep := &daily.Report{Environment: "integration", Day: "2026-11-26", Within: 30 * day}
	if _, ok := render.Digest(rep, true); ok {
		t.Errorf("a quiet environment posts a digest with nothing in it")
	}
	m, ok := render.Digest(rep, false)
	if !ok || len(m.Blocks) != 1 {
		t.Fatalf("an empty digest is %d blocks, want one line", len(m.Blocks))
	}
	digestGolden(t, "digest-empty", signontest.New(nil), rep, m)
}

// TestDigestOfTwoThousandTokensFitsBlockKit: every group at its largest
// stays within 50 blocks and 3,000 characters a section, and says what it
// left out; a group too big for one button's value has no button.
func TestDigestOfTwoThousandTokensFitsBlockKit(t *testing.T) {
	rep := &daily.Report{Environment: "production", Day: "2026-11-26", SignonNow: flowstest.Start, Within: 30 * day, HomeWithin: 60 * day}
	for i := range 2000 {
		p := flows.EstatePair{User: flows.APIUser{ID: int64(i + 1), Name: fmt.Sprintf("API user %04d with a long name", i), Email: fmt.Sprintf("api-user-%04d@partner.example.com", i)},
			Application: flows.Application{ID: 9000, Name: "Publishing API"}, Synced: true, Internal: i%3 == 0,
			Token: flows.Token{ID: int64(10000 + i), ExpiresAt: flowstest.Start.Add(time.Duration(i%29+1) * day)}}
		if i%2 == 0 {
			p.Superseded = []flows.Token{{ID: int64(20000 + i), Fingerprint: "0123456789abcdef"}}
		}
		why := daily.WhyExternal
		if p.Internal {
			why = daily.WhyRenewalFailed
		}
		rep.Pairs, rep.Whys = append(rep.Pairs, p), append(rep.Whys, why)
		rep.OpenRuns = append(rep.OpenRuns, daily.RunRef{ID: fmt.Sprintf("r-run%04d", i), Key: flows.Key{Environment: "production", APIUser: p.User.Email, Application: "publishing-api"}, Step: "verify"})
	}
	m, ok := render.Digest(rep, false)
	if !ok {
		t.Fatal("no digest")
	}
	if len(m.Blocks) > blocks.MaxBlocks {
		t.Errorf("%d blocks, over Block Kit's %d", len(m.Blocks), blocks.MaxBlocks)
	}
	text := ""
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if n := len(b.Text.Text); n > 3000 {
				t.Errorf("a section of %d characters", n)
			}
			text += b.Text.Text
		case *slack.ActionBlock:
			for _, e := range b.Elements.ElementSet {
				if v := e.(*slack.ButtonBlockElement).Value; len(v) > 2000 {
					t.Errorf("a button value of %d characters", len(v))
				}
			}
		}
	}
	for _, want := range []string{"…and 652 more", "…and 985 more", "…and 1985 more"} {
		if !strings.Contains(text, want) {
			t.Errorf("the digest does not say %q", want)
		}
	}
}

func TestDigestValues(t *testing.T) {
	target := blocks.DigestTarget{Environment: "production", Day: "2026-11-26", Why: daily.WhyExternal,
		Pairs: []blocks.DigestPair{{User: 12, Application: 3}, {User: 40, Application: 3}}}
	v := blocks.DigestValue(target)
	got, ok := blocks.ParseDigestValue(v)
	if !ok || got.Environment != target.Environment || got.Day != target.Day || got.Why != target.Why || len(got.Pairs) != 2 || got.Pairs[1] != target.Pairs[1] {
		t.Fatalf("ParseDigestValue(%q) = %+v %v", v, got, ok)
	}
	if v := blocks.DigestValue(blocks.DigestTarget{Environment: "production", Day: "2026-11-26", Why: daily.WhyExternal, Pairs: manyPairs(200)}); v != "" {
		t.Errorf("200 pairs made a value of %d characters", len(v))
	}
	for _, forged := range []string{"", "production|2026-11-26|external|", "production|2026-11-26|external|12.3,12.3",
		"production|2026-13-40|external|12.3", "Production|2026-11-26|external|12.3", "production|2026-11-26|everything|12.3",
		"production|2026-11-26|external|0.3", "production|2026-11-26|external|12.3|x", "production|2026-11-26|external|-1.3",
		"production|2026-11-26|external|12.3 ", "o-abc|i-def", strings.Repeat("1", 2001)} {
		if got, ok := blocks.ParseDigestValue(forged); ok {
			t.Errorf("ParseDigestValue(%q) accepted %+v", forged, got)
		}
	}
}

func manyPairs(n int) []blocks.DigestPair {
	out := make([]blocks.DigestPair, n)
	for i := range out {
		out[i] = blocks.DigestPair{User: int64(100000 + i), Application: 9999}
	}
	return out
}

func blocksJSON(t *testing.T, m blocks.Message) string {
	t.Helper()
	raw, err := json.Marshal(m.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
