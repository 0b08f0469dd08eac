package scenario

import (
	"context"
	"fmt"
	"strings"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// Standing says where each of the scenario's tokens and consumers stands
// now, read from the Signon double and the cluster stand-in: what a play
// by hand left, whatever the scenario's design wanted.
func (w *World) Standing(ctx context.Context) []string {
	var lines []string
	for _, e := range w.expects {
		label := e.user + " → " + e.app
		got, err := w.Signon.Tokens(ctx, e.email, e.app)
		if err != nil {
			lines = append(lines, fmt.Sprintf("%s: Signon: %v", label, err))
			continue
		}
		var toks []string
		for _, t := range got.Tokens {
			state := "live"
			if t.Revoked() {
				state = "revoked"
			}
			toks = append(toks, fmt.Sprintf("#%d (fingerprint %s) %s", t.ID, t.Fingerprint.Short(), state))
		}
		line := fmt.Sprintf("%s: in Signon, token %s", label, strings.Join(toks, ", token "))
		for _, c := range e.consumers {
			fp := w.Cluster.PodFingerprint(c.deployment, c.variable)
			line += fmt.Sprintf("; deploy/%s holds %s", c.deployment, held(got.Tokens, fp))
		}
		lines = append(lines, line+".")
	}
	lines = append(lines, fmt.Sprintf("Sync Jobs created: %d.", w.Cluster.JobsCreated()))
	return lines
}

func held(ts []flows.Token, fp token.Fingerprint) string {
	if fp == "" {
		return "no token"
	}
	for _, t := range ts {
		if t.Fingerprint == fp {
			return fmt.Sprintf("token #%d", t.ID)
		}
	}
	return "a token Signon does not have (fingerprint " + fp.Short() + ")"
}
