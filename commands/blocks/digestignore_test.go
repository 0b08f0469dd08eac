package blocks_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// TestDigestWithIgnoredPairsGolden: the external user's pair and the
// superseded pair are ignored: their groups list nothing, count them on
// an "ignored" line with who, until when and why, and offer Undo Ignore
// in place of Rotate all and Revoke superseded.
func TestDigestWithIgnoredPairsGolden(t *testing.T) {
	rep, s := sweepReport(t, 30*day)
	now := rep.At
	igs := map[flows.Key]flows.Ignore{}
	for _, p := range rep.Pairs {
		if p.User.Email == "feed@partner.example.com" || p.User.Email == "short-url-manager@alphagov.co.uk" {
			k := daily.PairKey(rep.Environment, p)
			igs[k] = flows.Ignore{Key: k, By: "U0ALICE", At: now, Until: now.Add(14 * day).Truncate(day), Reason: "<!channel> retired in December"}
		}
	}
	rep.Ignore(igs)
	if len(rep.Ignored) != 2 {
		t.Fatalf("%d pairs ignored, want 2", len(rep.Ignored))
	}
	m, ok := render.Digest(rep, false)
	if !ok {
		t.Fatal("no digest")
	}
	text := blocksJSON(t, m)
	for _, want := range []string{"ignored: 1 (until", `Ignored by \u003c@U0ALICE\u003e`, blocks.ActionDigestUnignore + ":external", blocks.ActionDigestUnignore + ":superseded"} {
		if !strings.Contains(text, want) {
			t.Errorf("the digest lacks %q", want)
		}
	}
	for _, gone := range []string{blocks.ActionDigestRotateAll + ":external", blocks.ActionDigestRevoke, `\u003c!channel`} {
		if strings.Contains(text, gone) {
			t.Errorf("the digest still has %q", gone)
		}
	}
	digestGolden(t, "digest-ignored", s, rep, m)
}
