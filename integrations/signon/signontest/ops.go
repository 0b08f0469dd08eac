package signontest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// The operations, checked in the script's order: input, user, application,
// suspension, token, initiator; then the change.

// FindAPIUser finds an API user by email.
func (s *Signon) FindAPIUser(ctx context.Context, email string) (flows.APIUser, error) {
	op := signon.OpFindAPIUser
	if err := s.enter(ctx, op); err != nil {
		return flows.APIUser{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.findAPIUser(op, email)
	if err != nil {
		return flows.APIUser{}, err
	}
	return apiUser(u), nil
}

// Tokens lists the user's tokens for the application, newest first.
func (s *Signon) Tokens(ctx context.Context, email, applicationName string) (flows.TokenSet, error) {
	op := signon.OpTokens
	if err := s.enter(ctx, op); err != nil {
		return flows.TokenSet{}, err
	}
	if err := checkTarget(op, email, applicationName); err != nil {
		return flows.TokenSet{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.findAPIUser(op, email)
	if err != nil {
		return flows.TokenSet{}, err
	}
	a, err := s.findApp(op, applicationName, true)
	if err != nil {
		return flows.TokenSet{}, err
	}
	set := flows.TokenSet{User: apiUser(u), Application: application(a), LastSyncedAt: s.synced[pair{u.id, a.id}], Tokens: []flows.Token{}}
	for _, t := range s.tokensOf(u, a) {
		set.Tokens = append(set.Tokens, t.public())
	}
	set.Synced = u.suspendedAt.IsZero() && !a.retired
	if t := s.newest(u, a); t != nil && set.Synced {
		set.SyncedTokenID = t.id
	}
	return set, nil
}

// Expiring lists the newest unrevoked token of every (API user,
// application) that expires before now plus within, soonest first.
func (s *Signon) Expiring(ctx context.Context, within time.Duration) ([]flows.ExpiringToken, error) {
	op := signon.OpExpiring
	if err := s.enter(ctx, op); err != nil {
		return nil, err
	}
	if within <= 0 || within > 20*366*24*time.Hour {
		return nil, refuse(op, signon.KindBadInput, "expiry window %v is out of range", within)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.Now().Add(within)
	rows := []flows.ExpiringToken{}
	for _, u := range s.users {
		if !u.api {
			continue
		}
		for _, a := range s.apps {
			if t := s.newest(u, a); t != nil && !a.retired && t.expiredAt(limit) {
				rows = append(rows, flows.ExpiringToken{User: apiUser(u), Application: application(a), Token: t.public(), LastSyncedAt: s.synced[pair{u.id, a.id}]})
			}
		}
	}
	slices.SortFunc(rows, func(x, y flows.ExpiringToken) int {
		return cmp.Or(x.Token.ExpiresAt.Compare(y.Token.ExpiresAt), strings.Compare(x.User.Email, y.User.Email), strings.Compare(x.Application.Slug, y.Application.Slug))
	})
	return rows, nil
}

// Issue makes a token, or returns the run's: the one its EventLog entry
// names, else the unrevoked one made at or after the intent less the
// allowed skew. It refuses if a token outlives a new one.
func (s *Signon) Issue(ctx context.Context, req flows.IssueRequest) (flows.Issued, error) {
	op := signon.OpIssue
	if err := s.enter(ctx, op); err != nil {
		return flows.Issued{}, err
	}
	if err := checkTarget(op, req.Email, req.Application); err != nil {
		return flows.Issued{}, err
	}
	if req.IntentAt.IsZero() {
		return flows.Issued{}, refuse(op, signon.KindBadInput, "no intent time")
	}
	if err := checkAudit(op, req.Initiator, req.RunID, req.Requester); err != nil {
		return flows.Issued{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, a, err := s.target(op, req.Email, req.Application)
	if err != nil {
		return flows.Issued{}, err
	}
	if !u.suspendedAt.IsZero() {
		return flows.Issued{}, refuse(op, signon.KindSuspended, "API user %s is suspended", u.email)
	}
	initiator, err := s.initiator(op, req.Initiator)
	if err != nil {
		return flows.Issued{}, err
	}

	found := s.issuedByRun(u, a, req.RunID)
	since := req.IntentAt.Add(-s.skew())
	for _, t := range s.tokensOf(u, a) {
		if found == nil && t.revoked.IsZero() && !t.created.Before(since) {
			found = t
		}
	}
	out := flows.Issued{Existing: found != nil, Initiator: initiator}
	if found == nil {
		fresh := s.Now().Add(signon.DefaultTokenLife)
		if t := s.newest(u, a); t != nil && t.life != 0 && t.expires().After(fresh) {
			return flows.Issued{}, refuse(op, signon.KindOutlived, "token %d (fingerprint %s) expires %s, after a new token would (%s): the sync job would keep writing it; nothing was written",
				t.id, t.secret.Fingerprint(), stamp(t.expires()), stamp(fresh))
		}
		found = s.addToken(u, a, s.Now(), signon.DefaultTokenLife)
		s.signin[pair{u.id, a.id}] = true
		s.events = append(s.events, Event{Name: EventGenerated, User: u.email, Initiator: initiator.Email, Application: a.name,
			UserAgent: UserAgent, TrailingMessage: trailing(req.RunID, req.Requester, found.id)})
	}
	out.Token, out.Secret = found.public(), found.secret
	if s.TimeoutNextIssue {
		s.TimeoutNextIssue = false
		return flows.Issued{}, &signon.Error{Op: op, Kind: signon.KindTimeout, Message: "no result before the deadline", Cause: context.DeadlineExceeded}
	}
	return out, nil
}

// Reveal returns the plaintext of one unrevoked, unexpired token of the
// user and application, and changes nothing.
func (s *Signon) Reveal(ctx context.Context, req flows.RevealRequest) (flows.Revealed, error) {
	op := signon.OpReveal
	if err := s.enter(ctx, op); err != nil {
		return flows.Revealed{}, err
	}
	if err := checkTarget(op, req.Email, req.Application); err != nil {
		return flows.Revealed{}, err
	}
	if req.TokenID <= 0 {
		return flows.Revealed{}, refuse(op, signon.KindBadInput, "token id %d is not a token id", req.TokenID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, a, err := s.target(op, req.Email, req.Application)
	if err != nil {
		return flows.Revealed{}, err
	}
	i := slices.IndexFunc(s.tokens, func(t *tok) bool { return t.id == req.TokenID })
	if i < 0 {
		return flows.Revealed{}, refuse(op, signon.KindUnknownToken, "there is no token %d", req.TokenID)
	}
	t := s.tokens[i]
	if t.user != u.id || t.app != a.id {
		return flows.Revealed{}, refuse(op, signon.KindWrongOwner, "token %d is not a token of %s for %s", t.id, u.email, a.name)
	}
	if !t.revoked.IsZero() {
		return flows.Revealed{}, refuse(op, signon.KindAlreadyRevoked, "token %d was revoked at %s", t.id, stamp(t.revoked))
	}
	if !t.expires().After(s.Now()) {
		return flows.Revealed{}, refuse(op, signon.KindAlreadyRevoked, "token %d expired at %s", t.id, stamp(t.expires()))
	}
	return flows.Revealed{Token: t.public(), Secret: t.secret}, nil
}

// Revoke revokes one token of the user and application.
func (s *Signon) Revoke(ctx context.Context, req flows.RevokeRequest) (flows.Revoked, error) {
	op := signon.OpRevoke
	if err := s.enter(ctx, op); err != nil {
		return flows.Revoked{}, err
	}
	if err := checkTarget(op, req.Email, req.Application); err != nil {
		return flows.Revoked{}, err
	}
	if req.TokenID <= 0 {
		return flows.Revoked{}, refuse(op, signon.KindBadInput, "token id %d is not a token id", req.TokenID)
	}
	if err := checkAudit(op, req.Initiator, req.RunID, req.Requester); err != nil {
		return flows.Revoked{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, a, err := s.target(op, req.Email, req.Application)
	if err != nil {
		return flows.Revoked{}, err
	}
	if !u.suspendedAt.IsZero() {
		return flows.Revoked{}, refuse(op, signon.KindSuspended, "API user %s is suspended", u.email)
	}
	i := slices.IndexFunc(s.tokens, func(t *tok) bool { return t.id == req.TokenID })
	if i < 0 {
		return flows.Revoked{}, refuse(op, signon.KindUnknownToken, "there is no token %d", req.TokenID)
	}
	t := s.tokens[i]
	if t.user != u.id || t.app != a.id {
		return flows.Revoked{}, refuse(op, signon.KindWrongOwner, "token %d is not a token of %s for %s", t.id, u.email, a.name)
	}
	if !t.revoked.IsZero() {
		return flows.Revoked{}, refuse(op, signon.KindAlreadyRevoked, "token %d was revoked at %s", t.id, stamp(t.revoked))
	}
	initiator, err := s.initiator(op, req.Initiator)
	if err != nil {
		return flows.Revoked{}, err
	}
	t.revoked = s.Now()
	s.events = append(s.events, Event{Name: EventRevoked, User: u.email, Initiator: initiator.Email, Application: a.name,
		UserAgent: UserAgent, TrailingMessage: trailing(req.RunID, req.Requester, t.id)})
	return flows.Revoked{Token: t.public(), Initiator: initiator}, nil
}

// enter counts the call and applies its fault hooks.
func (s *Signon) enter(ctx context.Context, op signon.Op) error {
	s.mu.Lock()
	s.init()
	s.calls[op]++
	fail, delay, hold := s.FailNext[op], s.DelayNext[op], s.HoldNext[op]
	delete(s.FailNext, op)
	delete(s.DelayNext, op)
	delete(s.HoldNext, op)
	s.mu.Unlock()

	if hold != nil {
		hold.enter()
		select {
		case <-hold.released:
		case <-ctx.Done():
			return timedOut(op, ctx.Err())
		}
	}
	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return timedOut(op, ctx.Err())
		}
	}
	if fail != nil {
		return fmt.Errorf("signontest: injected failure of %s: %w", op, fail)
	}
	if err := ctx.Err(); err != nil {
		return timedOut(op, err)
	}
	return nil
}

func timedOut(op signon.Op, cause error) error {
	return &signon.Error{Op: op, Kind: signon.KindTimeout, Message: "no result before the deadline", Cause: cause}
}

func refuse(op signon.Op, kind signon.Kind, format string, args ...any) error {
	return &signon.Error{Op: op, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func checkEmail(op signon.Op, email string) error {
	if flows.ValidateEmail(email) != nil {
		return refuse(op, signon.KindBadInput, "%q is not an email address", email)
	}
	return nil
}

func checkAudit(op signon.Op, initiator, runID, requester string) error {
	if err := signon.CheckAudit(initiator, runID, requester); err != nil {
		return refuse(op, signon.KindBadInput, "%s", err)
	}
	return nil
}

// issuedByRun is the unrevoked token whose ACCESS_TOKEN_GENERATED entry
// names the run, read back from the trailing message as the script does.
func (s *Signon) issuedByRun(u *user, a *app, runID string) *tok {
	for i := len(s.events) - 1; i >= 0; i-- {
		e := s.events[i]
		if e.Name != EventGenerated || e.UserAgent != UserAgent || e.User != u.email || e.Application != a.name {
			continue
		}
		var id int64
		var run, requester string
		if _, err := fmt.Sscanf(e.TrailingMessage, "run %s for Slack user %s token %d", &run, &requester, &id); err != nil || run != runID {
			continue
		}
		for _, t := range s.tokens {
			if t.id == id && t.user == u.id && t.app == a.id && t.revoked.IsZero() {
				return t
			}
		}
	}
	return nil
}

func (s *Signon) findAPIUser(op signon.Op, email string) (*user, error) {
	if err := checkEmail(op, email); err != nil {
		return nil, err
	}
	email = strings.ToLower(email)
	u := s.userByEmail(email)
	switch {
	case u == nil:
		return nil, refuse(op, signon.KindUnknownAPIUser, "Signon has no API user with email %s", email)
	case !u.api:
		return nil, refuse(op, signon.KindUnknownAPIUser, "%s is a Signon user but not an API user", email)
	}
	return u, nil
}

func checkTarget(op signon.Op, email, applicationName string) error {
	if err := checkEmail(op, email); err != nil {
		return err
	}
	if !signon.ValidApplication(applicationName) {
		return refuse(op, signon.KindBadInput, "%q is not an application name", applicationName)
	}
	return nil
}

func (s *Signon) target(op signon.Op, email, applicationName string) (*user, *app, error) {
	u, err := s.findAPIUser(op, email)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.findApp(op, applicationName, false)
	return u, a, err
}

// findApp takes a Signon name, or else a parameterised one. Retired
// applications are hidden, as Signon's default scope hides them, unless
// retired is true.
func (s *Signon) findApp(op signon.Op, name string, retired bool) (*app, error) {
	var exact, bySlug []*app
	for _, a := range s.apps {
		if a.retired && !retired {
			continue
		}
		if a.name == name {
			exact = append(exact, a)
		}
		if flows.Parameterize(a.name) == name {
			bySlug = append(bySlug, a)
		}
	}
	switch {
	case len(exact) == 1:
		return exact[0], nil
	case len(bySlug) == 1:
		return bySlug[0], nil
	case len(bySlug) > 1:
		return nil, refuse(op, signon.KindBadInput, "%s could be any of several applications: use the full name", name)
	}
	return nil, refuse(op, signon.KindUnknownApplication, "Signon has no application named %s", name)
}

// initiator is the requester's own account if Signon would let them make
// the change (a superadmin, neither suspended nor locked), else the service
// identity's.
func (s *Signon) initiator(op signon.Op, requester string) (flows.Initiator, error) {
	if requester != "" {
		if u := s.userByEmail(strings.ToLower(requester)); u != nil && !u.api && u.superadmin && u.suspendedAt.IsZero() && u.lockedAt.IsZero() {
			return flows.Initiator{Email: u.email}, nil
		}
	}
	u := s.userByEmail(strings.ToLower(s.ServiceIdentity))
	if u == nil || !u.suspendedAt.IsZero() {
		return flows.Initiator{}, refuse(op, signon.KindNoInitiator, "the bot's service identity %s has no active Signon account", s.ServiceIdentity)
	}
	return flows.Initiator{Email: u.email, Service: true}, nil
}

// tokensOf lists the user's tokens for the application, newest first.
func (s *Signon) tokensOf(u *user, a *app) []*tok {
	var out []*tok
	for _, t := range s.tokens {
		if t.user == u.id && t.app == a.id {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(x, y *tok) int { return cmp.Or(y.created.Compare(x.created), cmp.Compare(y.id, x.id)) })
	return out
}
