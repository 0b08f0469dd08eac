package bot

import (
	"github.com/alphagov/signon-token-bot/flows"
)

// policyOf is the runbook's policy as the configuration states it.
func policyOf(cfg *Config) flows.Policy {
	gov := flows.GOVUKPolicy()
	p := flows.Policy{
		Environments:       map[string]flows.EnvPolicy{},
		SelfRotating:       cfg.SpecialCases.SelfRotating,
		HumanEmailSuffixes: cfg.SpecialCases.HumanEmailSuffixes,
		DisusedAfter:       cfg.DisusedAfter,
		ExpiryWindow:       cfg.ExpiryWindow,
		GateTTL:            cfg.GateTimeout,
		HandoffTTL:         cfg.HandoffTimeout,
		ReminderPercent:    cfg.Gates.ReminderPercent,
	}
	for _, o := range cfg.SpecialCases.OtherTeam {
		procedure := o.Procedure
		if procedure == "" {
			procedure = "their own procedure"
		}
		p.OtherTeam = append(p.OtherTeam, flows.OtherTeam{APIUsers: o.APIUsers, Procedure: procedure, Link: o.Link})
	}
	for name, e := range cfg.Environments {
		ep := flows.EnvPolicy{
			Rotate:              e.Rotate,
			Starters:            flows.Principals(e.Starters),
			Approvers:           flows.Principals(e.Approvers),
			Ping:                flows.Principals(cfg.pinged(name)),
			FourEyesRevoke:      e.FourEyesRevoke,
			SyncTimeout:         e.SyncTimeout,
			RolloutStartTimeout: e.RolloutStartTimeout,
			VerifyTimeout:       e.VerifyTimeout,
		}
		ep.Autopilot, ep.AutopilotAcknowledged, ep.AutopilotSource = e.autopilot(name, cfg.File)
		if !e.Rotate {
			ep.NoRotateReason = "The bot is configured not to rotate tokens in " + name + "."
			if g, ok := gov.Environments[name]; ok && !g.Rotate {
				ep.NoRotateReason = g.NoRotateReason
			}
		}
		p.Environments[name] = ep
	}
	return p
}
