package blocks_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// FuzzUntrustedMentionsNobody: text the bot did not write, made Untrusted
// and put in a post beside a mention the bot did write, renders with that
// one mention and no other, and no ping, channel or link.
func FuzzUntrustedMentionsNobody(f *testing.F) {
	for _, s := range []string{"@{U0EVIL}", "<@U0EVIL>", "@@{U0EVIL}}", "<!channel> <!subteam^S1|x> <#C1> <https://e.example|x>", "@{W0EVIL", "TOKEN_@{U0EVIL}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line := flows.Untrusted(s) + " " + flows.Mention("U0ALICE") + " " + flows.Code(s) + " " + flows.Untrusted(s)
		for _, out := range []string{blocks.Text(line), blocks.Plain(line)} {
			mentions := mentionIn.FindAllString(out, -1)
			if len(mentions) != 1 || mentions[0] != "<@U0ALICE>" {
				t.Fatalf("%q renders mentions %v: %q", s, mentions, out)
			}
			if strings.Count(out, "<") != 1 {
				t.Fatalf("%q renders a < that is not the one mention: %q", s, out)
			}
		}
	})
}
