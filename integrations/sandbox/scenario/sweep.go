package scenario

import (
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// The digest's channel, where a sweep-driven scenario's digest and the
// threads of the batches its sweep starts go.
const (
	DigestChannel     = "C0DIGEST"
	DigestChannelName = "govuk-signon-token-digest"
	// SweepAt is when the scenarios' environments sweep, as
	// environments.NAME.sweep.at sets it (the default).
	SweepAt = "02:00"
)

// Sweep is how a sweep-driven scenario's environment sweeps: the bot's
// configuration of it.
type Sweep struct {
	Environment string
	Autopilot   flows.Autopilot
}

// autopilot: an internal token Signon's renewal missed and an external
// one, in integration under autopilot full. The sweep's batch rotates the
// first with no click; the second waits for a person.
func (w *World) autopilot() {
	w.Sweep = &Sweep{Environment: flows.Integration, Autopilot: flows.AutopilotFull}
	e := w.expiring("Content Tagger", "content-tagger@alphagov.co.uk", "Email Alert API", 9, time.Hour)
	w.consume(e, "content-tagger")
	e.done()
	ext := w.expiring("Partner Feed", "feed@partner.example.com", "Content Store", 12, 2*time.Hour)
	w.Cluster.AddSecret(ext.user, ext.app)
	// The digest lists it among the external users' tokens, which no
	// policy rotates: its requester must hand the new token over.
	ext.explained = "*External users*"
	ext.left = "the digest lists it as an external user's, which the autopilot leaves to a person"
	w.jobs = 1
}

// superseded: Signon's renewal at 01:00 made a newer token, the 01:09
// sync wrote it and the consumers rolled, and the old token is left
// unrevoked. Production's to-gates clean-up verifies and asks; Bob says
// yes.
func (w *World) superseded(bob Person) {
	w.Sweep = &Sweep{Environment: flows.Production, Autopilot: flows.AutopilotToGates}
	e := w.expiring("Content Tagger", "content-tagger@alphagov.co.uk", "Email Alert API", 20, time.Hour)
	now := w.clock.Now()
	renewal := time.Date(now.Year(), now.Month(), now.Day(), 1, 0, 0, 0, time.UTC)
	e.renewed, _ = w.Signon.AddToken(e.email, e.app, renewal, flows.TokenLife)
	e.tokens++
	w.consume(e, "content-tagger", "draft-content-tagger")
	e.mode, e.phase, e.issued, e.keep = flows.ModeCleanup, flows.PhaseDone, 0, "new"
	w.Script = []Press{{bob, "Revoke 1 superseded token"}}
}
