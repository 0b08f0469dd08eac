package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/alphagov/signon-token-bot/flows"
)

// reopen gives back their buttons to the offer's items whose run ended by
// Cancel or a rollback (ended says which runs did), and returns the offer
// and the items to redraw: those it reopened now and those reopened
// before (a replica that stopped between the write and the edit).
func (p *offerPages) reopen(ctx context.Context, offerID string, ended func(runID string) bool) (*flows.Offer, []string, error) {
	var items []string
	o, err := p.update(ctx, offerID, func(o *flows.Offer) error {
		items = items[:0]
		changed := false
		for i, it := range o.Items {
			switch {
			case it.RunID != "" && ended(it.RunID):
				o.Items[i].EndedRunID, o.Items[i].RunID = it.RunID, ""
				items = append(items, it.ID)
				changed = true
			case it.RunID == "" && it.EndedRunID != "" && ended(it.EndedRunID):
				items = append(items, it.ID)
			}
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("give offer %s its buttons back: %w", offerID, err)
	}
	return o, items, nil
}

// offerBack reopens the offer item of a run that ended by Cancel or a
// rollback, before the run's closing posts (which say so) go out: a
// failure leaves them unposted, so the engine tries both again. An offer
// that has expired leaves nothing to do. A run
// still in its batch's step leaves this to the batch's end, which redraws
// the offer once for all its runs.
func (n *Notifier) offerBack(ctx context.Context, run *flows.Run, fresh []flows.Post) error {
	if !flows.ReopensOffer(run) || len(fresh) == 0 || n.cfg.Offers == nil || n.cfg.Runs == nil {
		return nil
	}
	o, items, err := n.offers.reopen(ctx, run.Origin.OfferID, func(id string) bool { return id == run.ID })
	if errors.Is(err, flows.ErrOfferNotFound) {
		// The offer outlived its retention: there is nothing to give back,
		// and the run must still end.
		n.log.InfoContext(ctx, "the offer of an ended run has expired", "run", run.ID, "offer", run.Origin.OfferID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", run.ID, err)
	}
	if len(items) == 0 {
		return nil
	}
	if err := n.offers.refresh(ctx, o, run, items...); err != nil {
		return fmt.Errorf("run %s: redraw its offer: %w", run.ID, err)
	}
	return nil
}

// reopenBatch reopens the items of a batch's runs that ended by Cancel or
// a rollback, once the batch has ended.
func (n *Notifier) reopenBatch(ctx context.Context, b *flows.Batch) (*flows.Offer, error) {
	ended := map[string]bool{}
	for _, id := range b.Members {
		run, err := n.cfg.Runs.Run(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("batch %s: load run %s: %w", b.ID, id, err)
		}
		ended[id] = run.Ended() && flows.ReopensOffer(run)
	}
	o, _, err := n.offers.reopen(ctx, b.Origin.OfferID, func(id string) bool { return ended[id] })
	return o, err
}
