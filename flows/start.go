package flows

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DeniedError says a user may not do what they tried. The Slack layer
// answers it privately; the engine audits it.
type DeniedError struct {
	User   string
	What   string
	Reason string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("%s may not %s: %s", e.User, e.What, e.Reason)
}

// RefusedError says the bot will not rotate this token, and why.
type RefusedError struct {
	Special SpecialCase
}

func (e *RefusedError) Error() string { return e.Special.Reason }

// environment returns an environment's policy, or ErrBadInput naming the
// known ones.
func (e *Engine) environment(name string) (EnvPolicy, error) {
	p, ok := e.policy.Environments[name]
	if !ok {
		return EnvPolicy{}, fmt.Errorf("%w: unknown environment %s (known: %s)", ErrBadInput, Quote(name), strings.Join(e.policy.EnvironmentNames(), ", "))
	}
	return p, nil
}

// Assess does the classify and inspect steps read-only, for an offer: what
// the alert's token is, whether it is a special case, when it was last
// used. Problems with Signon are reported in the Assessment, so that the
// offer can say so; only malformed keys and unknown environments are
// errors.
func (e *Engine) Assess(ctx context.Context, key Key) (Assessment, error) {
	if err := key.Validate(); err != nil {
		return Assessment{}, err
	}
	if _, err := e.environment(key.Environment); err != nil {
		return Assessment{}, err
	}
	a := Assessment{Key: key}
	if sc := e.policy.Special(key.Environment, key.APIUser, ""); sc != nil {
		a.Special = sc
		return a, nil
	}
	ts, err := e.envs[key.Environment].Signon.Tokens(ctx, key.APIUser, key.Application)
	if err != nil {
		a.Error = e.describe(ctx, err)
		return a, nil
	}
	return e.assessTokens(key, ts), nil
}

func (e *Engine) assessTokens(key Key, ts TokenSet) Assessment {
	a := Assessment{
		Key:             key,
		APIUserName:     ts.User.Name,
		ApplicationName: ts.Application.Name,
		LastSyncedAt:    ts.LastSyncedAt,
	}
	if sc := e.policy.Special(key.Environment, key.APIUser, ts.User.Name); sc != nil {
		a.Special = sc
		return a
	}
	if ts.User.Suspended {
		a.Error = "the API user is suspended in Signon"
		return a
	}
	if ts.Application.Retired {
		a.Error = "the application is retired in Signon, so the sync job no longer writes its tokens and Signon refuses changes to them"
		return a
	}
	now := e.clock.Now()
	live := unrevoked(ts.Tokens)
	if len(live) > 0 {
		// Current is what the sync job writes, as Signon says; the order
		// of unrevoked is the same rule, for a Signon that did not say.
		cur, ok := ts.SyncChoice()
		if !ok {
			cur = live[0]
		}
		a.Current = &cur
		due := now.Add(e.policy.ExpiryWindow)
		a.Renewed = !cur.ExpiresBefore(due) && slices.ContainsFunc(live, func(t Token) bool { return t.ID != cur.ID && t.ExpiresBefore(due) })
		if sc := outlived(cur, now); sc != nil {
			a.Special = sc
			return a
		}
	}
	a.Disused = e.disused(key.Application, ts.LastSyncedAt, now)
	return a
}

// disused: the application has not checked the user's token with Signon
// for the policy's time. Where Signon does not record checks at all, no
// token looks disused.
func (e *Engine) disused(app string, lastSynced, now time.Time) bool {
	if e.policy.Untracked(app) {
		return false
	}
	return lastSynced.IsZero() || now.Sub(lastSynced) > e.policy.DisusedAfter
}

// outlived explains why the bot will not issue a token for a pair whose
// synced token expires after a new two-year token would: the sync job
// writes the token that expires last, so the new one would never reach
// the cluster.
func outlived(cur Token, now time.Time) *SpecialCase {
	fresh := now.Add(TokenLife)
	if !cur.Expires() || !cur.ExpiresAt.After(fresh) {
		return nil
	}
	return &SpecialCase{Kind: "outlived", Reason: fmt.Sprintf(
		"Token #%d (fingerprint %s) expires %s, later than a new two-year token would (%s). Signon's sync job writes the token that expires last, so a new token would never reach the cluster: the bot changes nothing. "+
			"Tokens made before 10 January 2019 live 10 years; revoke this one in Signon first if it should go.",
		cur.ID, cur.Fingerprint.Short(), Date(cur.ExpiresAt), Date(fresh))}
}

// Expiring lists the tokens of an environment that expire within the
// alert's window, assessed, soonest first: what a grouped alert means.
func (e *Engine) Expiring(ctx context.Context, env string) ([]Assessment, error) {
	p, err := e.environment(env)
	if err != nil {
		return nil, err
	}
	if !p.Rotate {
		return nil, &RefusedError{Special: SpecialCase{Kind: "staging", Reason: p.NoRotateReason}}
	}
	rows, err := e.envs[env].Signon.Expiring(ctx, e.policy.ExpiryWindow)
	if err != nil {
		return nil, fmt.Errorf("list expiring tokens in %s: %w", env, err)
	}
	now := e.clock.Now()
	out := make([]Assessment, 0, len(rows))
	for _, row := range rows {
		key := Key{Environment: env, APIUser: strings.ToLower(row.User.Email), Application: row.Application.Slug}
		if key.Application == "" {
			key.Application = Parameterize(row.Application.Name)
		}
		tok := row.Token
		a := Assessment{
			Key:             key,
			APIUserName:     row.User.Name,
			ApplicationName: row.Application.Name,
			Current:         &tok,
			LastSyncedAt:    row.LastSyncedAt,
			Special:         e.policy.Special(env, key.APIUser, row.User.Name),
			Disused:         e.disused(key.Application, row.LastSyncedAt, now),
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b Assessment) int { return a.Current.ExpiresAt.Compare(b.Current.ExpiresAt) })
	return out, nil
}

// StartRequest asks for a run.
type StartRequest struct {
	Key  Key
	Mode Mode
	// Actor is the Slack user who asked.
	Actor string
	// Thread is where the run talks. With TS empty, the status message
	// starts a new thread in Thread.Channel.
	Thread Thread
	Origin Origin
	// Batch is the batch the run joins, if any.
	Batch string
}

// Start begins a run after checking the request, the user's authority and
// Signon's view of the token. If the token already has an active run it
// returns that run with an *ActiveRunError, so the caller can point to it.
func (e *Engine) Start(ctx context.Context, req StartRequest) (*Run, error) {
	if req.Mode == "" {
		req.Mode = ModeRotate
	}
	if req.Mode != ModeRotate && req.Mode != ModeRevokeDisused && req.Mode != ModeCleanup {
		return nil, fmt.Errorf("%w: unknown mode %s", ErrBadInput, Quote(string(req.Mode)))
	}
	req.Key.APIUser = strings.ToLower(req.Key.APIUser)
	if err := req.Key.Validate(); err != nil {
		return nil, err
	}
	envp, err := e.environment(req.Key.Environment)
	if err != nil {
		return nil, err
	}
	if !envp.Rotate {
		return nil, &RefusedError{Special: SpecialCase{Kind: "staging", Reason: envp.NoRotateReason}}
	}
	if sc := e.policy.Special(req.Key.Environment, req.Key.APIUser, ""); sc != nil {
		return nil, &RefusedError{Special: *sc}
	}
	what := "rotate tokens in " + req.Key.Environment
	if ok, err := e.auth.allowed(ctx, req.Key.Environment, req.Actor, roleStart); err != nil {
		return nil, fmt.Errorf("check who may %s: %w", what, err)
	} else if !ok {
		return nil, &DeniedError{User: req.Actor, What: what, Reason: "you are not among the configured starters for " + req.Key.Environment}
	}
	if existing, err := e.store.ActiveRun(ctx, req.Key); err == nil {
		return existing, &ActiveRunError{RunID: existing.ID}
	} else if !errors.Is(err, ErrRunNotFound) {
		return nil, fmt.Errorf("look for an active run: %w", err)
	}
	ts, err := e.envs[req.Key.Environment].Signon.Tokens(ctx, req.Key.APIUser, req.Key.Application)
	if err != nil {
		return nil, fmt.Errorf("ask Signon about %s: %w", req.Key, err)
	}
	a := e.assessTokens(req.Key, ts)
	if a.Special != nil {
		return nil, &RefusedError{Special: *a.Special}
	}
	if a.Error != "" {
		return nil, fmt.Errorf("%w: %s", ErrSuspended, a.Error)
	}
	// From here the run follows Signon's identity, not the typed text:
	// Signon matches emails case- and accent-insensitively, so two
	// spellings can reach one API user, and must share one lock.
	if canon := canonicalKey(req.Key, ts); canon != req.Key {
		req.Key = canon
		if existing, err := e.store.ActiveRun(ctx, req.Key); err == nil {
			return existing, &ActiveRunError{RunID: existing.ID}
		} else if !errors.Is(err, ErrRunNotFound) {
			return nil, fmt.Errorf("look for an active run: %w", err)
		}
	}
	if req.Mode == ModeRevokeDisused && e.policy.Untracked(req.Key.Application) {
		return nil, fmt.Errorf("%w: Signon does not record use of tokens for %s, so the bot cannot tell that this one is disused; rotate it instead", ErrBadInput, ts.Application.Name)
	}
	if req.Mode == ModeRevokeDisused && !a.Disused {
		return nil, fmt.Errorf("%w: the application used this token %s ago, so it is not disused; rotate it instead", ErrBadInput, Span(e.clock.Now().Sub(a.LastSyncedAt)))
	}
	if req.Mode == ModeRevokeDisused && a.Current == nil {
		return nil, fmt.Errorf("%w: there is no unrevoked token to revoke", ErrBadInput)
	}
	if req.Mode == ModeCleanup {
		if err := superseded(ts); err != nil {
			return nil, err
		}
	}

	now := e.clock.Now()
	run := &Run{
		Schema:          Schema,
		ID:              NewID("r"),
		Key:             req.Key,
		Mode:            req.Mode,
		APIUserName:     ts.User.Name,
		ApplicationName: ts.Application.Name,
		Tokens:          ts.Tokens,
		LastSyncedAt:    ts.LastSyncedAt,
		Unsynced:        !ts.Synced,
		Thread:          req.Thread,
		Origin:          req.Origin,
		StartedBy:       req.Actor,
		Batch:           req.Batch,
		CreatedAt:       now,
		UpdatedAt:       now,
		Steps:           newSteps(planFor(req.Mode)),
	}
	run.mark(StepClassify, StepOK, classifyNote(ts.User), now)
	run.moveTo(StepInspect, now)
	run.redactText()
	if err := e.store.CreateRun(ctx, run); err != nil {
		var active *ActiveRunError
		if errors.As(err, &active) {
			existing, lerr := e.store.Run(ctx, active.RunID)
			if lerr != nil {
				return nil, errors.Join(err, lerr)
			}
			return existing, err
		}
		return nil, err
	}
	e.audit(ctx, run, req.Actor, "start", "ok", string(req.Mode))
	e.runLog(run).Info("run started", "by", req.Actor, "mode", req.Mode)
	if err := e.publish(ctx, run); err != nil {
		e.runLog(run).Warn("post status", "err", err)
	}
	e.kick(run.ID)
	return run, nil
}

func classifyNote(u APIUser) string {
	return fmt.Sprintf("API user %s", defuse(u.Name))
}

// canonicalKey is the key under Signon's own identity for the pair: the
// email as Signon stores it and the slug of the application's name.
func canonicalKey(k Key, ts TokenSet) Key {
	if ts.User.Email != "" {
		k.APIUser = strings.ToLower(ts.User.Email)
	}
	if slug := Parameterize(ts.Application.Name); slug != "" {
		k.Application = slug
	}
	return k
}

// unrevoked returns the unrevoked tokens in the sync job's order of
// preference: latest expiry first, the higher id on a tie, and tokens that
// never expire last (SQL orders their NULL expiry first).
func unrevoked(ts []Token) []Token {
	var out []Token
	for _, t := range ts {
		if !t.Revoked() {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b Token) int {
		if a.Expires() != b.Expires() {
			if a.Expires() {
				return -1
			}
			return 1
		}
		return cmp.Or(b.ExpiresAt.Compare(a.ExpiresAt), cmp.Compare(b.ID, a.ID))
	})
	return out
}

// describe turns a port error into a sentence for an offer in the
// channel: Signon's own refusals as it words them, anything else plainly,
// with the details in the log.
func (e *Engine) describe(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, ErrUnknownAPIUser), errors.Is(err, ErrUnknownApplication),
		errors.Is(err, ErrSuspended), errors.Is(err, ErrBadInput):
		return err.Error()
	}
	return failure(ctx, e.log, err, "")
}
