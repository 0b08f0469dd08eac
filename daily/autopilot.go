package daily

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// Batches starts a batch of runs (flows.Engine): rotations or a clean-up.
type Batches interface {
	StartBatch(ctx context.Context, req flows.BatchRequest) (*flows.BatchStarted, error)
}

// Rotations is the autopilot's rotation step: under to-gates or full it
// starts one batch, as the autopilot policy, for the pairs whose renewal
// failed, in the digest's channel. The engine then stops at the batch's
// gates (to-gates) or passes them as the policy's decision (full).
//
// External users' tokens are never in it: their consumers get the token
// by hand, from the person who asked for it. Pairs with a run under way
// are left to that run, so a sweep that acts again after a crash starts
// no second batch for them (and the engine refuses a second run per pair
// whatever the sweep asks).
type Rotations struct {
	Mode    flows.Autopilot
	Batches Batches
	// Channel is where the batch's thread starts: the digest's.
	Channel string
	// Within is the engine's rotation window (the policy's
	// ExpiryWindow, the alert's): a run finds nothing to rotate in a
	// token further off, so the sweep leaves it to a later day.
	Within time.Duration
	Logger *slog.Logger
}

// Act starts the batch, and adds its runs to the digest's open runs.
func (a *Rotations) Act(ctx context.Context, r *Report) error {
	if !a.Mode.Starts() {
		return nil
	}
	keys := Covered(r, a.Within)
	if len(keys) == 0 {
		return nil
	}
	res, err := a.Batches.StartBatch(ctx, flows.BatchRequest{Keys: keys, Actor: flows.PolicyActor(r.Environment),
		Thread: flows.Thread{Channel: a.Channel}, Origin: flows.Origin{Kind: "sweep"}})
	if err != nil {
		return fmt.Errorf("autopilot (%s): start a batch of %d rotations: %w", a.Mode, len(keys), err)
	}
	runs := slices.Clone(res.Runs)
	for _, f := range res.Refused {
		if f.Run != nil {
			runs = append(runs, f.Run)
		} else if a.Logger != nil && !errors.Is(f.Err, context.Canceled) {
			a.Logger.WarnContext(ctx, "autopilot: a token was not started", "environment", r.Environment, "key", f.Key.String(), "err", f.Err)
		}
	}
	for _, ref := range RunRefs(runs, r.Environment) {
		if !slices.ContainsFunc(r.OpenRuns, func(o RunRef) bool { return o.ID == ref.ID }) {
			r.OpenRuns = append(r.OpenRuns, ref)
		}
	}
	slices.SortFunc(r.OpenRuns, func(a, b RunRef) int { return strings.Compare(a.ID, b.ID) })
	if a.Logger != nil {
		a.Logger.InfoContext(ctx, "autopilot started a batch", "environment", r.Environment, "batch", res.Batch.ID, "mode", a.Mode, "runs", len(res.Runs), "refused", len(res.Refused))
	}
	return nil
}

// Covered are the pairs the autopilot rotates in a sweep: those whose
// renewal failed, expiring within the rotation window of Signon's time,
// without a run under way. At most flows.MaxBatch; the rest wait for the
// next day.
func Covered(r *Report, within time.Duration) []flows.Key {
	var keys []flows.Key
	for _, g := range r.GroupsWithin(min(within, r.Within)) {
		if g.Why != WhyRenewalFailed {
			continue
		}
		for _, p := range g.Pairs {
			k := PairKey(r.Environment, p)
			if slices.ContainsFunc(r.OpenRuns, func(o RunRef) bool { return o.Key == k }) || len(keys) == flows.MaxBatch {
				continue
			}
			keys = append(keys, k)
		}
	}
	return keys
}

// PairKey is the run key of an estate pair under Signon's identity, as a
// run records it: the API user's email and the slug of the application's
// name.
func PairKey(env string, p flows.EstatePair) flows.Key {
	app := flows.Parameterize(p.Application.Name)
	if app == "" {
		app = p.Application.Slug
	}
	return flows.Key{Environment: env, APIUser: strings.ToLower(p.User.Email), Application: app}
}

var _ Actor = (*Rotations)(nil)
