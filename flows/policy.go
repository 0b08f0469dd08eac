package flows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Policy is what the runbook leaves to judgement, written down. The zero
// value is not usable; start from GOVUKPolicy.
type Policy struct {
	Environments map[string]EnvPolicy
	// SelfRotating API users (by email) rotate their own tokens: alerts
	// for them are ignored.
	SelfRotating []string
	// OtherTeam API users are looked after by another team's procedure.
	OtherTeam []OtherTeam
	// HumanEmailSuffixes mark API users that belong to a person, who
	// should rotate their own token.
	HumanEmailSuffixes []string
	// DisusedAfter: a token its application has not checked with Signon
	// for this long may be revoked instead of rotated.
	DisusedAfter time.Duration
	// UntrackedApplications (slugs) are those whose use Signon's
	// last_synced_at cannot show: tokens used against Signon's own API
	// never set it. Their tokens are never offered as disused.
	UntrackedApplications []string
	// ExpiryWindow is the alert's rule: a token expiring within it is due.
	ExpiryWindow time.Duration
	// GateTTL is how long a confirmation stays open. The run waits after
	// that; it is not cancelled.
	GateTTL time.Duration
	// HandoffTTL is how long the hand-off of an external token stays open.
	HandoffTTL time.Duration
	// ReminderPercent is how far through its time open a gate that
	// expires gets one reminder in its thread (remind.go); 0 sends none.
	ReminderPercent int
}

// EnvPolicy is one environment's rules.
type EnvPolicy struct {
	// Rotate is false where the bot only explains (staging, overwritten
	// from production every night).
	Rotate bool
	// NoRotateReason explains Rotate false.
	NoRotateReason string
	// Starters may start runs; Approvers may pass gates (Starters when
	// empty). Nobody may when both are empty.
	Starters  Principals
	Approvers Principals
	// Ping are the people a gate's message mentions when it opens, and
	// its reminder (Policy.Ping); nobody when empty.
	Ping Principals
	// FourEyesRevoke: the revoke gate needs someone other than the
	// person who started the run.
	FourEyesRevoke bool
	// SyncTimeout bounds the sync Job; RolloutStartTimeout is how long a
	// consumer may take to begin rolling; VerifyTimeout bounds the whole
	// verification.
	SyncTimeout         time.Duration
	RolloutStartTimeout time.Duration
	VerifyTimeout       time.Duration
	// Autopilot is how far the daily sweep goes by itself ("" is off);
	// AutopilotAcknowledged is production's AutopilotAcknowledgement;
	// AutopilotSource names the configuration that sets them, for the
	// thread and the audit (autopilot.go).
	Autopilot             Autopilot
	AutopilotAcknowledged bool
	AutopilotSource       string
}

// Principals are Slack user ids and user group ids.
type Principals struct {
	Users  []string
	Groups []string
}

// Empty reports whether nobody is named.
func (p Principals) Empty() bool { return len(p.Users) == 0 && len(p.Groups) == 0 }

// OtherTeam names API users (by name or email) another team rotates.
type OtherTeam struct {
	APIUsers []string
	// Procedure names the other team's procedure; Link points to it.
	Procedure string
	Link      string
}

// GOVUKPolicy is GOV.UK's policy as the runbook states it. Nobody is
// authorised until the configuration names them.
func GOVUKPolicy() Policy {
	env := EnvPolicy{
		Rotate:              true,
		SyncTimeout:         10 * time.Minute,
		RolloutStartTimeout: 5 * time.Minute,
		VerifyTimeout:       15 * time.Minute,
	}
	staging := env
	staging.Rotate = false
	staging.NoRotateReason = "Staging's Signon database is restored from production every weekday morning and its tokens are synced from it, so staging alerts can be ignored: rotate the token in production instead."
	staging.Autopilot = AutopilotOff
	prod := env
	prod.FourEyesRevoke = true
	prod.Autopilot = AutopilotToGates
	integration := env
	integration.Autopilot = AutopilotFull
	return Policy{
		Environments: map[string]EnvPolicy{
			Integration: integration,
			Staging:     staging,
			Production:  prod,
		},
		SelfRotating: []string{"signon+permissions@alphagov.co.uk"},
		OtherTeam: []OtherTeam{{
			APIUsers:  []string{"Trade Tariff Admin", "Trade Tariff Backend"},
			Procedure: `"Trade Tariff Admin" on the GOV.UK wiki`,
		}},
		DisusedAfter:          30 * 24 * time.Hour,
		UntrackedApplications: []string{"signon-api"},
		ExpiryWindow:          14 * 24 * time.Hour,
		GateTTL:               4 * time.Hour,
		HandoffTTL:            24 * time.Hour,
		ReminderPercent:       80,
	}
}

// Validate reports the first thing wrong with the policy.
func (p Policy) Validate() error {
	if len(p.Environments) == 0 {
		return fmt.Errorf("policy: no environments")
	}
	for name, e := range p.Environments {
		if !slugPattern.MatchString(name) {
			return fmt.Errorf("policy: environment %q is not a lower-case name", name)
		}
		if e.Rotate && (e.SyncTimeout <= 0 || e.RolloutStartTimeout <= 0 || e.VerifyTimeout <= 0) {
			return fmt.Errorf("policy: environment %s: timeouts must be positive", name)
		}
		if err := validateAutopilot(name, e); err != nil {
			return err
		}
	}
	if p.DisusedAfter <= 0 || p.ExpiryWindow <= 0 || p.GateTTL <= 0 || p.HandoffTTL <= 0 {
		return fmt.Errorf("policy: durations must be positive")
	}
	if p.ReminderPercent < 0 || p.ReminderPercent > 99 {
		return fmt.Errorf("policy: a reminder goes at 1 to 99%% of a gate's time open, or never (0), not %d%%", p.ReminderPercent)
	}
	return nil
}

// Untracked reports whether Signon's last_synced_at cannot reflect use of
// the application's tokens.
func (p Policy) Untracked(slug string) bool { return slices.Contains(p.UntrackedApplications, slug) }

// EnvironmentNames lists the configured environments in order.
func (p Policy) EnvironmentNames() []string {
	names := make([]string, 0, len(p.Environments))
	for n := range p.Environments {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Special returns the special case that applies to an API user in an
// environment, or nil. name may be "" when Signon has not been asked yet.
func (p Policy) Special(env, email, name string) *SpecialCase {
	if e, ok := p.Environments[env]; ok && !e.Rotate {
		return &SpecialCase{Kind: "staging", Reason: e.NoRotateReason}
	}
	for _, s := range p.SelfRotating {
		if strings.EqualFold(s, email) {
			return &SpecialCase{Kind: "self-rotating", Reason: "This API user rotates its own token (it reuses a token valid for more than 4 weeks and otherwise makes a new one), so the alert can be ignored."}
		}
	}
	for _, t := range p.OtherTeam {
		for _, u := range t.APIUsers {
			if strings.EqualFold(u, email) || (name != "" && strings.EqualFold(u, name)) {
				return &SpecialCase{Kind: "other-team", Reason: "This token is rotated by another team's own procedure (" + t.Procedure + "), not by this bot.", Link: t.Link}
			}
		}
	}
	for _, suffix := range p.HumanEmailSuffixes {
		if strings.HasSuffix(strings.ToLower(email), strings.ToLower(suffix)) {
			return &SpecialCase{Kind: "human", Reason: "This API user belongs to a person, who should rotate their own token."}
		}
	}
	return nil
}

// authoriser answers "may this user do that here?".
type authoriser struct {
	policy Policy
	dir    Directory
}

// role is what a user wants to do.
type role int

const (
	roleStart role = iota
	roleApprove
)

// allowed reports whether user may act in env. It asks the Directory for
// group members; an error there is returned, never taken as a yes.
func (a authoriser) allowed(ctx context.Context, env, user string, r role) (bool, error) {
	if ok, decided := a.named(env, user, r); decided {
		return ok, nil
	}
	for _, g := range a.who(env, r).Groups {
		members, err := a.dir.GroupMembers(ctx, g)
		if err != nil {
			return false, fmt.Errorf("members of user group %s: %w", g, err)
		}
		if slices.Contains(members, user) {
			return true, nil
		}
	}
	return false, nil
}

// named decides what allowed would without asking about groups, where it
// can: an unknown environment, the policy's own actor, a user named in
// the configuration.
func (a authoriser) named(env, user string, r role) (ok, decided bool) {
	e, known := a.policy.Environments[env]
	if !known {
		return false, true
	}
	if penv, ok := PolicyEnvironment(user); ok {
		// The policy starts where its sweep may, and approves only
		// under full.
		if penv != env {
			return false, true
		}
		return (r == roleStart && e.autopilotMode().Starts()) || (r == roleApprove && e.autopilotMode() == AutopilotFull), true
	}
	if slices.Contains(a.who(env, r).Users, user) {
		return true, true
	}
	return false, false
}

// who are the principals that hold role r in env.
func (a authoriser) who(env string, r role) Principals {
	e := a.policy.Environments[env]
	if r == roleApprove && !e.Approvers.Empty() {
		return e.Approvers
	}
	return e.Starters
}

// MaySee reports whether user may see the runs under way (`list`,
// `status`), whose threads may be in private channels: the starters and
// approvers of any environment may.
func (e *Engine) MaySee(ctx context.Context, user string) (bool, error) {
	// Named users first: they cost no group lookup.
	for _, env := range e.policy.EnvironmentNames() {
		for _, r := range []role{roleStart, roleApprove} {
			if ok, _ := e.auth.named(env, user, r); ok {
				return true, nil
			}
		}
	}
	for _, env := range e.policy.EnvironmentNames() {
		for _, r := range []role{roleStart, roleApprove} {
			if ok, err := e.auth.allowed(ctx, env, user, r); err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

// MayStart reports whether user may start runs in env. The Slack layer
// asks before it acts on an offer itself (Ignore), where no run checks.
func (e *Engine) MayStart(ctx context.Context, env, user string) (bool, error) {
	return e.auth.allowed(ctx, env, user, roleStart)
}
