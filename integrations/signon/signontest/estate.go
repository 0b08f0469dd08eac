package signontest

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// Estate is the daily sweep's report, as the script's estate op makes it.
func (s *Signon) Estate(ctx context.Context, within time.Duration) (flows.Estate, error) {
	op := signon.OpEstate
	if err := s.enter(ctx, op); err != nil {
		return flows.Estate{}, err
	}
	if within <= 0 || within > 20*366*24*time.Hour {
		return flows.Estate{}, refuse(op, signon.KindBadInput, "expiry window %v is out of range", within)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	limit := now.Add(within)
	est := flows.Estate{Now: now, Within: within, Pairs: []flows.EstatePair{}}
	for _, u := range s.users {
		if !u.api {
			continue
		}
		for _, a := range s.apps {
			if p, ok := s.estatePair(u, a, now, limit); ok {
				est.Pairs = append(est.Pairs, p)
			}
		}
	}
	slices.SortFunc(est.Pairs, func(x, y flows.EstatePair) int {
		return cmp.Or(expiryKey(x.Token).Compare(expiryKey(y.Token)), strings.Compare(x.User.Email, y.User.Email), strings.Compare(x.Application.Slug, y.Application.Slug))
	})
	return est, nil
}

// expiryKey orders a token that never expires last, as the script's sort
// does.
func expiryKey(t flows.Token) time.Time {
	if !t.Expires() {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return t.ExpiresAt
}

func (s *Signon) estatePair(u *user, a *app, now, limit time.Time) (flows.EstatePair, bool) {
	choice := s.newest(u, a)
	if choice == nil {
		return flows.EstatePair{}, false
	}
	p := flows.EstatePair{User: apiUser(u), Application: application(a), Internal: internal.MatchString(u.email),
		Synced: u.suspendedAt.IsZero() && !a.retired, Token: choice.public(), LastSyncedAt: s.synced[pair{u.id, a.id}]}
	var older []*tok
	for _, t := range s.tokens {
		if t.user != u.id || t.app != a.id || t == choice {
			continue
		}
		if !t.revoked.IsZero() {
			if p.RenewalBlocker == 0 && choice.life != 0 && t.life != 0 && t.expires().After(choice.expires()) {
				p.RenewalBlocker = t.id
			}
			continue
		}
		if !t.expiredAt(now) && (t.created.Before(choice.created) || t.created.Equal(choice.created) && t.id < choice.id) {
			older = append(older, t)
		}
	}
	slices.SortFunc(older, func(x, y *tok) int { return cmp.Or(x.created.Compare(y.created), cmp.Compare(x.id, y.id)) })
	for _, t := range older {
		p.Superseded = append(p.Superseded, t.public())
	}
	if !choice.expiredAt(limit) && len(p.Superseded) == 0 {
		return flows.EstatePair{}, false
	}
	return p, true
}
