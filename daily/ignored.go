package daily

import (
	"context"
	"slices"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

// Ignores reads an environment's snoozes (state.Store): the pairs people
// chose to leave alone, with why and until when.
type Ignores interface {
	Ignores(ctx context.Context, env string, now time.Time) (map[flows.Key]flows.Ignore, error)
}

// Ignore marks the report's pairs that igs snoozes: they leave the
// digest's groups, the superseded pairs and the autopilot's batches, and
// are counted apart. The sweep calls it with the snoozes at its time; the
// digest's buttons and the Home tab call it again with those of now, so
// that an Ignore or an Undo shows before the next sweep.
func (r *Report) Ignore(igs map[flows.Key]flows.Ignore) {
	r.Ignored = nil
	for _, p := range r.Pairs {
		if ig, ok := igs[PairKey(r.Environment, p)]; ok {
			r.Ignored = append(r.Ignored, ig)
		}
	}
}

// IgnoreOf is the snooze of p, if the report has one.
func (r *Report) IgnoreOf(p flows.EstatePair) (flows.Ignore, bool) {
	k := PairKey(r.Environment, p)
	i := slices.IndexFunc(r.Ignored, func(ig flows.Ignore) bool { return ig.Key == k })
	if i < 0 {
		return flows.Ignore{}, false
	}
	return r.Ignored[i], true
}

func (r *Report) ignored(p flows.EstatePair) bool {
	_, ok := r.IgnoreOf(p)
	return ok
}

var _ Ignores = (*state.Store)(nil)
