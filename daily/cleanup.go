package daily

import (
	"context"
	"errors"
	"fmt"

	"github.com/alphagov/signon-token-bot/flows"
)

// Cleanup is the sweep's superseded-token clean-up step: one batch of
// every pair in the report holding superseded tokens. The batch verifies
// each pair's consumers and stops at one revoke question, which the
// environment's policy answers or leaves to a person.
type Cleanup struct {
	// Mode is the environment's autopilot: the sweep cleans up only under
	// to-gates or full, as the policy, like Rotations.
	Mode    flows.Autopilot
	Batches Batches
	// Channel is where the batch's thread starts: the digest's.
	Channel string
}

// Act starts the clean-up of r's superseded pairs, if there are any. Pairs
// the engine refuses (a run already under way, nothing superseded any
// more) are left to the next sweep.
func (c *Cleanup) Act(ctx context.Context, r *Report) error {
	if !c.Mode.Starts() {
		return nil
	}
	keys := SupersededKeys(r)
	if len(keys) == 0 {
		return nil
	}
	res, err := c.Batches.StartBatch(ctx, flows.BatchRequest{Mode: flows.ModeCleanup, Keys: keys, Actor: flows.PolicyActor(r.Environment),
		Thread: flows.Thread{Channel: c.Channel}, Origin: flows.Origin{Kind: "sweep"}})
	if err != nil {
		return fmt.Errorf("start the clean-up of %d superseded pairs in %s: %w", len(keys), r.Environment, err)
	}
	var refused []error
	for _, f := range res.Refused {
		if !errors.As(f.Err, new(*flows.ActiveRunError)) {
			refused = append(refused, fmt.Errorf("%s: %w", f.Key, f.Err))
		}
	}
	if len(refused) > 0 && len(res.Runs) == 0 {
		return fmt.Errorf("clean-up of %s: every pair refused: %w", r.Environment, errors.Join(refused...))
	}
	return nil
}

// SupersededKeys are the run keys of the report's pairs that hold
// superseded tokens, in the report's order.
func SupersededKeys(r *Report) []flows.Key {
	var keys []flows.Key
	for _, p := range r.Superseded() {
		keys = append(keys, PairKey(r.Environment, p))
	}
	return keys
}

var _ Actor = (*Cleanup)(nil)
