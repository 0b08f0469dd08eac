package signon

import (
	"context"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// wireEstate is the estate op's result.
type wireEstate struct {
	Now   time.Time `json:"now"`
	Pairs []struct {
		User           flows.APIUser     `json:"user"`
		Application    flows.Application `json:"application"`
		Internal       bool              `json:"internal"`
		Synced         bool              `json:"synced"`
		Token          wireToken         `json:"token"`
		Superseded     []wireToken       `json:"superseded"`
		RenewalBlocker int64             `json:"renewal_blocker"`
		LastSyncedAt   time.Time         `json:"last_synced_at"`
	} `json:"pairs"`
}

// Estate reads the daily sweep's report in one `rails runner`: every API
// user's pairs whose synced token expires before Signon's now plus within,
// or that hold superseded tokens, soonest expiry first.
func (c *Client) Estate(ctx context.Context, within time.Duration) (flows.Estate, error) {
	req := request{Op: OpEstate, Within: within.Seconds()}
	if within <= 0 || within > maxWithin {
		return flows.Estate{}, &Error{Op: req.Op, Kind: KindBadInput, Message: fmt.Sprintf("expiry window %v is not between 0 and %v", within, maxWithin)}
	}
	var out wireEstate
	if err := c.call(ctx, req, &out); err != nil {
		return flows.Estate{}, err
	}
	est := flows.Estate{Now: out.Now, Within: within, Pairs: make([]flows.EstatePair, 0, len(out.Pairs))}
	for _, w := range out.Pairs {
		p := flows.EstatePair{User: w.User, Application: w.Application, Internal: w.Internal, Synced: w.Synced, RenewalBlocker: w.RenewalBlocker, LastSyncedAt: w.LastSyncedAt}
		var err error
		if p.Token, err = w.Token.token(); err != nil {
			return flows.Estate{}, &Error{Op: req.Op, Kind: KindBadResult, Message: err.Error()}
		}
		for _, s := range w.Superseded {
			t, err := s.token()
			if err != nil {
				return flows.Estate{}, &Error{Op: req.Op, Kind: KindBadResult, Message: err.Error()}
			}
			p.Superseded = append(p.Superseded, t)
		}
		est.Pairs = append(est.Pairs, p)
	}
	return est, nil
}
