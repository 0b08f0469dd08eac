package flows

import (
	"regexp"
	"slices"
	"strings"
)

// slackUserOrGroup is a Slack user id (U…, W…) or user group id (S…):
// only these become mentions, so a malformed id in a policy cannot
// carry markup into a post.
var slackUserOrGroup = regexp.MustCompile(`^[UWS][A-Z0-9]{2,20}$`)

// Ping is the mentions a question in env makes of the people who can
// answer it: the environment's Ping groups (each a user group mention)
// and users, leaving out except (the run's starter, who is in the thread
// already and, where four eyes apply, may not answer). "" when nobody is
// named. A run's gates ping through it as they open; a caller that opens
// a question of its own (the daily sweep's autopilot) pings with it too,
// in a post's Ping, so that the renderer mentions them as Slack notifies.
func (p Policy) Ping(env, except string) string {
	e, ok := p.Environments[env]
	if !ok {
		return ""
	}
	var out []string
	for _, id := range append(slices.Clone(e.Ping.Groups), e.Ping.Users...) {
		if id == except || !slackUserOrGroup.MatchString(id) || slices.Contains(out, Mention(id)) {
			continue
		}
		out = append(out, Mention(id))
	}
	return strings.Join(out, " ")
}

// ping is whom a run's gate asks.
func (e *Engine) ping(run *Run) string { return e.policy.Ping(run.Key.Environment, run.StartedBy) }
