package commands

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// Usage is /rotate-token's help, in mrkdwn.
const Usage = "*Rotate a Signon API user's token*\n" +
	"• `/rotate-token &lt;api-user-email&gt; &lt;application&gt; [environment]` starts a rotation " +
	"(for example `/rotate-token short-url-manager@alphagov.co.uk publishing-api production`)\n" +
	"• `/rotate-token &lt;api-user-email&gt; &lt;application&gt; &lt;api-user-email&gt; &lt;application&gt; … [environment]` starts one batch of rotations that share their confirmations\n" +
	"• `/rotate-token expiring [environment]` starts a batch of every token Signon lists as expiring soon\n" +
	"• `/rotate-token` with nothing after it opens a form to pick the environment, API user and application\n" +
	"• `/rotate-token status &lt;run&gt;` shows where a rotation is\n" +
	"• `/rotate-token list` lists the rotations under way, with links to their threads\n" +
	"• `/rotate-token cancel &lt;run&gt;` cancels a rotation\n" +
	"• `/rotate-token audit &lt;run&gt;` shows a rotation's audit trail, privately\n" +
	"• `/rotate-token help` shows this"

// unknownSubcommand is the answer to a word /rotate-token does not know:
// a suggestion when one is close, then the usage.
func unknownSubcommand(word string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":warning: `%s` is not something `/rotate-token` knows, and it is not an API user's email address.", blocks.Escape(flows.Clip(word)))
	if s := suggest(strings.ToLower(word), subcommandNames); s != "" {
		fmt.Fprintf(&b, " Did you mean `/rotate-token %s`?", s)
	}
	b.WriteString("\n\n")
	b.WriteString(Usage)
	return b.String()
}

// suggest returns the candidate nearest to word, if it is within two
// edits (or word is a prefix of it), else "".
func suggest(word string, candidates []string) string {
	best, bestDist := "", 3
	n := utf8.RuneCountInString(word)
	for _, c := range candidates {
		d := bestDist
		if n-len(c) < bestDist && len(c)-n < bestDist {
			// Lengths further apart are further apart in edits: a long
			// word (commands are answered before their ack) costs no
			// distance table.
			d = editDistance(word, c)
		}
		if len(word) >= 2 && strings.HasPrefix(c, word) {
			d = min(d, 1)
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
