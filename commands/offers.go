package commands

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// runReader loads runs.
type runReader interface {
	Run(ctx context.Context, id string) (*flows.Run, error)
}

// offerPages puts offers in their alert's thread and keeps them in line
// with their items and runs.
type offerPages struct {
	slack  SlackAPI
	render blocks.Renderer
	store  flows.OfferStore
	runs   func(ctx context.Context, id string) (*flows.Run, error)
	clock  flows.Clock
	log    *slog.Logger
}

// post puts a new offer's pages in its alert's thread and records them.
// It renders the stored offer, and renders again if the offer changed
// while it posted (a resolved message, a click): the thread shows the
// latest state either way.
func (p *offerPages) post(ctx context.Context, o *flows.Offer) error {
	if fresh, err := p.store.Offer(ctx, o.ID); err == nil {
		o = fresh
	}
	var posted []string
	var perr error
	for _, m := range p.render.Offer(o, nil, p.clock.Now()) {
		ts, err := p.slack.PostMessage(ctx, o.Alert.Channel, slackapi.MsgOptionText(m.Text, false),
			slackapi.MsgOptionBlocks(m.Blocks...), slackapi.MsgOptionTS(o.Alert.TS), slackapi.MsgOptionDisableLinkUnfurl())
		if err != nil {
			perr = fmt.Errorf("post offer %s: %w", o.ID, err)
			break
		}
		posted = append(posted, ts)
	}
	if len(posted) == 0 {
		return perr
	}
	stored, err := p.update(ctx, o.ID, func(o *flows.Offer) error {
		o.Messages = posted
		return nil
	})
	if err == nil && stored.Version != o.Version+1 {
		err = p.refresh(ctx, stored, nil)
	}
	return errors.Join(perr, err)
}

// errUnchanged tells update that the offer needs no write.
var errUnchanged = errors.New("offer unchanged")

// update applies change to the stored offer until its compare-and-set
// wins, and returns the offer as written.
func (p *offerPages) update(ctx context.Context, id string, change func(*flows.Offer) error) (*flows.Offer, error) {
	for range 8 {
		o, err := p.store.Offer(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := change(o); errors.Is(err, errUnchanged) {
			return o, nil
		} else if err != nil {
			return o, err
		}
		o.UpdatedAt = p.clock.Now()
		err = p.store.UpdateOffer(ctx, o)
		if errors.Is(err, flows.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return o, nil
	}
	return nil, fmt.Errorf("update offer %s: %w", id, flows.ErrConflict)
}

// refresh renders the offer again and edits its pages: those that show
// the given items, or all of them. A page the click came from is
// replaced through the click's response_url. fresh, if set, is a run
// newer than the store's copy.
func (p *offerPages) refresh(ctx context.Context, o *flows.Offer, fresh *flows.Run, items ...string) error {
	runs := map[string]*flows.Run{}
	for _, it := range o.Items {
		switch id := cmp.Or(it.RunID, it.EndedRunID); {
		case id == "":
		case fresh != nil && fresh.ID == id:
			runs[id] = fresh
		default:
			run, err := p.runs(ctx, id)
			if err != nil {
				p.log.WarnContext(ctx, "offer: load run", "offer", o.ID, "run", id, "err", err)
				continue
			}
			runs[id] = run
		}
	}
	pages := map[int]bool{}
	for i, it := range o.Items {
		if len(items) == 0 || slices.Contains(items, it.ID) {
			pages[blocks.OfferPage(i)] = true
		}
	}
	if len(items) == 0 {
		pages[0] = true
	}
	var errs []error
	for i, m := range p.render.Offer(o, runs, p.clock.Now()) {
		if !pages[i] || i >= len(o.Messages) {
			continue
		}
		if err := p.edit(ctx, o.Alert.Channel, o.Messages[i], m); err != nil {
			errs = append(errs, fmt.Errorf("edit offer %s page %d: %w", o.ID, i+1, err))
		}
	}
	return errors.Join(errs...)
}

// edit replaces a message of the bot's, through the response_url of a
// click on it when there is one.
func (p *offerPages) edit(ctx context.Context, channel, ts string, m blocks.Message) error {
	if url, ok := routeOf(ctx, channel, ts); ok {
		err := p.slack.Respond(ctx, url, slack.Reply{Text: m.Text, Blocks: m.Blocks, ReplaceOriginal: true})
		if err == nil {
			return nil
		}
		p.log.WarnContext(ctx, "replace through response_url failed, editing instead", "err", err)
	}
	return p.slack.UpdateMessage(ctx, channel, ts, slackapi.MsgOptionText(m.Text, false), slackapi.MsgOptionBlocks(m.Blocks...))
}
