package daily

import (
	"slices"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// Why a token needs a person, the digest's groups in the order it shows
// them.
type Why string

const (
	// WhyRenewalFailed: an internal user's token expires within a month
	// and Signon's 01:00 renewal made no newer one.
	WhyRenewalFailed Why = "renewal-failed"
	// WhyExternal: Signon renews only internal users' tokens.
	WhyExternal Why = "external"
	// WhyOtherTeam: another team rotates the user's tokens by its own
	// procedure.
	WhyOtherTeam Why = "other-team"
	// WhyStaging: the environment is staging, where nothing is urgent.
	WhyStaging Why = "staging"
	// WhyRenewalAhead: an internal token further off than a month:
	// Signon will renew it when it is within one.
	WhyRenewalAhead Why = "renewal-ahead"
	// WhyNotSynced: the sync skips the pair (a suspended user, a retired
	// application), so no consumer holds its token.
	WhyNotSynced Why = "not-synced"
)

// Whys lists every Why in the digest's order.
var Whys = []Why{WhyRenewalFailed, WhyExternal, WhyOtherTeam, WhyStaging, WhyRenewalAhead, WhyNotSynced}

// Report is one sweep of one environment: what the digest shows and the
// Home tab reads. It holds fingerprints, never a token.
type Report struct {
	Environment string `json:"environment"`
	// Day is the sweep's day (DayLayout); At when it ran by the bot's
	// clock; SignonNow Signon's clock when it made the estate report.
	Day       string    `json:"day"`
	At        time.Time `json:"at"`
	SignonNow time.Time `json:"signon_now"`
	// Within is the digest's window; HomeWithin the Home tab's. The
	// estate was read with the wider of the two.
	Within     time.Duration `json:"within"`
	HomeWithin time.Duration `json:"home_within"`
	// Pairs is Signon's estate report, soonest expiry first.
	Pairs []flows.EstatePair `json:"pairs"`
	// Whys classifies Pairs, index for index.
	Whys []Why `json:"whys"`
	// Consumers are, index for index with Pairs, the workloads that read
	// each pair's Secret when the sweep listed them; nil when it did not
	// (ConsumersUnread says why).
	Consumers [][]flows.Consumer `json:"consumers,omitempty"`
	// ConsumersUnread says why the sweep has no consumers: no cluster to
	// list them from, or the listing failed.
	ConsumersUnread string `json:"consumers_unread,omitempty"`
	// OpenRuns are the environment's runs under way when it swept.
	OpenRuns []RunRef `json:"open_runs,omitempty"`
	// Next is the next sweep's slot.
	Next time.Time `json:"next"`
	// Ignored are the snoozes of the report's pairs (Ignore): those
	// pairs are in no group, counted apart.
	Ignored []flows.Ignore `json:"ignored,omitempty"`
}

// RunRef is a run under way, as the digest and the Home tab link to it.
type RunRef struct {
	ID       string    `json:"id"`
	Key      flows.Key `json:"key"`
	Step     string    `json:"step"`
	Channel  string    `json:"channel"`
	ThreadTS string    `json:"thread_ts"`
	StatusTS string    `json:"status_ts,omitempty"`
}

// Group is the pairs expiring within the digest's window for one reason;
// Ignored those of them people snoozed, which Pairs leaves out.
type Group struct {
	Why     Why
	Pairs   []flows.EstatePair
	Ignored []flows.EstatePair
}

// Groups are the pairs whose synced token expires within the digest's
// window, by why, in Whys' order; empty groups are left out.
func (r *Report) Groups() []Group { return r.GroupsWithin(r.Within) }

// GroupsWithin groups the pairs whose synced token expires within d of
// Signon's time.
func (r *Report) GroupsWithin(d time.Duration) []Group {
	limit := r.SignonNow.Add(d)
	var out []Group
	for _, why := range Whys {
		g := Group{Why: why}
		for i, p := range r.Pairs {
			switch {
			case r.Whys[i] != why || !p.Token.ExpiresBefore(limit):
			case r.ignored(p):
				g.Ignored = append(g.Ignored, p)
			default:
				g.Pairs = append(g.Pairs, p)
			}
		}
		if len(g.Pairs)+len(g.Ignored) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// Superseded are the synced pairs holding tokens a renewal left behind,
// but for those people snoozed (SupersededIgnored).
func (r *Report) Superseded() []flows.EstatePair {
	sup, _ := r.superseded()
	return sup
}

// SupersededIgnored are the snoozed pairs Superseded leaves out.
func (r *Report) SupersededIgnored() []flows.EstatePair {
	_, ign := r.superseded()
	return ign
}

func (r *Report) superseded() (sup, ign []flows.EstatePair) {
	for _, p := range r.Pairs {
		switch {
		case !p.Synced || len(p.Superseded) == 0:
		case r.ignored(p):
			ign = append(ign, p)
		default:
			sup = append(sup, p)
		}
	}
	return sup, ign
}

// Expiring are the pairs whose synced token expires within the Home tab's
// window, soonest first, but for those people snoozed.
func (r *Report) Expiring() []flows.EstatePair {
	limit := r.SignonNow.Add(r.HomeWithin)
	var out []flows.EstatePair
	for _, p := range r.Pairs {
		if p.Token.ExpiresBefore(limit) && !r.ignored(p) {
			out = append(out, p)
		}
	}
	return out
}

// ConsumersOf are the workloads the sweep found reading p's Secret, and
// whether it listed them at all.
func (r *Report) ConsumersOf(p flows.EstatePair) ([]flows.Consumer, bool) {
	i := r.index(p.User.ID, p.Application.ID)
	if r.Consumers == nil || i < 0 {
		return nil, false
	}
	return r.Consumers[i], true
}

// Pair finds the report's pair of Signon's user and application ids.
func (r *Report) Pair(user, application int64) (flows.EstatePair, bool) {
	if i := r.index(user, application); i >= 0 {
		return r.Pairs[i], true
	}
	return flows.EstatePair{}, false
}

// Index is p's index in Pairs (and Whys), or -1.
func (r *Report) Index(p flows.EstatePair) int { return r.index(p.User.ID, p.Application.ID) }

func (r *Report) index(user, application int64) int {
	return slices.IndexFunc(r.Pairs, func(p flows.EstatePair) bool { return p.User.ID == user && p.Application.ID == application })
}

// Empty reports whether the digest has nothing to say, not even that
// something is ignored.
func (r *Report) Empty() bool {
	sup, ign := r.superseded()
	return len(r.Groups()) == 0 && len(sup)+len(ign) == 0 && len(r.OpenRuns) == 0
}

// Rules are an environment's classification settings.
type Rules struct {
	// Staging puts every pair in WhyStaging.
	Staging bool
	// OtherTeam are API users another team rotates, by name or email
	// (specialCases.otherTeam).
	OtherTeam []string
}

// classify says why a pair needs a person; renewal is the time Signon's
// renewal ran on the sweep's day (01:00 UTC).
func (rules Rules) classify(p flows.EstatePair, renewal time.Time) Why {
	switch {
	case !p.Synced:
		return WhyNotSynced
	case slices.ContainsFunc(rules.OtherTeam, func(u string) bool { return u == p.User.Name || strings.EqualFold(u, p.User.Email) }):
		return WhyOtherTeam
	case rules.Staging:
		return WhyStaging
	case !p.Internal:
		return WhyExternal
	case p.RenewalDue(renewal):
		return WhyRenewalFailed
	}
	return WhyRenewalAhead
}
