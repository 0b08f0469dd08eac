package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// Records is what a Driver reads of the bot's state: the offer that
// answered the alert, and the runs started from it. *state.Store has both,
// so the bot may run in this process or another.
type Records interface {
	OfferForAlert(ctx context.Context, channel, ts string) (*flows.Offer, error)
	Run(ctx context.Context, id string) (*flows.Run, error)
}

// Driver plays a World through the fake Slack the bot is connected to, as
// the people in the channel would: it posts the alert, and presses buttons
// once the bot has settled.
type Driver struct {
	World   *World
	Slack   *slacktest.Server
	Records Records

	alertTS string
	// channel and threadTS are the thread the script plays in: the
	// alert's, or the batch a sweep started.
	channel, threadTS string
	clicks            []*slacktest.Delivery
}

// NewDriver returns a Driver. The fake must have been set up with
// w.Setup and the bot connected to it.
func NewDriver(w *World, fake *slacktest.Server, r Records) *Driver {
	return &Driver{World: w, Slack: fake, Records: r}
}

// AlertTS is the alert message's ts: the thread everything happens in.
func (d *Driver) AlertTS() string { return d.alertTS }

// ThreadTS is the ts of the thread the script plays in: the alert's, or
// that of the batch the sweep started; "" before it is known.
func (d *Driver) ThreadTS() string { return d.threadTS }

// Transcript is the play's thread as people read it.
func (d *Driver) Transcript() string { return d.Slack.Transcript(d.channel, d.threadTS) }

// Start starts the scenario: it posts the alert, or lets the clock pass
// the sweep time (Sweep).
func (d *Driver) Start(ctx context.Context) error {
	if d.World.Sweep != nil {
		return d.Sweep(ctx)
	}
	return d.SendAlert(ctx)
}

// Play starts the scenario and presses the script's buttons, each once
// the bot has settled, and waits for the bot to settle after the last.
func (d *Driver) Play(ctx context.Context) error {
	if err := d.Start(ctx); err != nil {
		return err
	}
	for _, p := range d.World.Script {
		c, ok := d.find(p.Button)
		if !ok {
			return fmt.Errorf("%s: there is no [%s] button for %s to press in the thread:\n%s", d.World.Name, p.Button, p.User.Name, d.Transcript())
		}
		if _, err := d.Press(ctx, p.User, c); err != nil {
			return err
		}
	}
	if d.World.Sweep != nil {
		// A gate the policy passed leaves a run waiting for a moment with
		// nothing to click: the script is over once every run has ended.
		return d.ended(ctx)
	}
	return nil
}

// SendAlert posts the scenario's alert in the channel, as Alertmanager's
// webhook does, and waits until the bot has answered it in its thread.
func (d *Driver) SendAlert(ctx context.Context) error {
	d.Slack.SendMessage(slacktest.AlertmanagerMessage(Channel, d.World.Alert))
	roots := d.Slack.History(Channel, "")
	if len(roots) == 0 {
		return errors.New("the fake Slack did not keep the alert")
	}
	d.alertTS = roots[len(roots)-1].TS
	d.channel, d.threadTS = Channel, d.alertTS
	return d.until(ctx, "the bot's answer to the alert", func() (bool, error) {
		o, err := d.Records.OfferForAlert(ctx, Channel, d.alertTS)
		if errors.Is(err, flows.ErrOfferNotFound) {
			return false, nil
		}
		if err != nil || len(o.Messages) == 0 {
			return false, err
		}
		for _, ts := range o.Messages {
			if _, ok := d.Slack.Message(Channel, ts, ""); !ok {
				return false, nil
			}
		}
		return true, nil
	})
}

// Choice is a button in the alert's thread that anyone in the channel can
// press.
type Choice struct {
	MessageTS string
	Button    slacktest.Button
	// About is the first line of the text the button belongs to.
	About string
}

// Choices lists the thread's buttons in the order people see them.
func (d *Driver) Choices() []Choice {
	var out []Choice
	for _, m := range d.Slack.Thread(d.channel, d.threadTS, "") {
		var blocks []map[string]any
		if json.Unmarshal(m.BlocksJSON, &blocks) != nil {
			continue
		}
		buttons := m.Buttons()
		about := ""
		for _, b := range blocks {
			if t, ok := b["text"].(map[string]any); ok && b["type"] == "section" {
				about, _, _ = strings.Cut(fmt.Sprint(t["text"]), "\n")
			}
			for _, el := range elements(b) {
				if el["type"] != "button" || len(buttons) == 0 {
					continue
				}
				out = append(out, Choice{MessageTS: m.TS, Button: buttons[0], About: about})
				buttons = buttons[1:]
			}
		}
	}
	return out
}

// elements are a block's interactive elements, as Message.Buttons walks
// them: an actions block's, or a section's accessory.
func elements(b map[string]any) []map[string]any {
	var els []any
	switch b["type"] {
	case "actions":
		els, _ = b["elements"].([]any)
	case "section":
		if acc, ok := b["accessory"]; ok {
			els = []any{acc}
		}
	}
	var out []map[string]any
	for _, e := range els {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func (d *Driver) find(text string) (Choice, bool) {
	for _, c := range d.Choices() {
		if c.Button.Text == text {
			return c, true
		}
	}
	return Choice{}, false
}

// Press clicks c as who and waits until the bot has answered the click
// (the button went, a private answer came, or a modal was opened or
// filled in) and then until it has settled.
func (d *Driver) Press(ctx context.Context, who Person, c Choice) (*slacktest.Delivery, error) {
	what := fmt.Sprintf("%s's click on [%s]", who.Name, c.Button.Text)
	views := d.answeredInModals()
	dl := d.Slack.Click(slacktest.BlockAction{User: who.ID, Channel: d.channel, MessageTS: c.MessageTS, ActionID: c.Button.ActionID})
	d.clicks = append(d.clicks, dl)
	if _, err := dl.WaitAck(ctx); err != nil {
		return dl, fmt.Errorf("%s: %w", what, err)
	}
	err := d.until(ctx, "the bot's answer to "+what, func() (bool, error) {
		if len(dl.Responses()) > 0 || d.answeredInModals() > views {
			return true, nil
		}
		m, ok := d.Slack.Message(d.channel, c.MessageTS, who.ID)
		if !ok {
			return true, nil
		}
		for _, b := range m.Buttons() {
			if b.ActionID == c.Button.ActionID {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return dl, err
	}
	return dl, d.Settle(ctx)
}

// answeredInModals counts the modals the bot filled in, and those it
// opened but for the reveal's, which answers only once it is filled in
// (the token and the audit of its showing come after the open).
func (d *Driver) answeredInModals() int {
	n := len(d.Slack.Calls("views.update"))
	for _, c := range d.Slack.Calls("views.open") {
		if !reveal(c) {
			n++
		}
	}
	return n
}

// Runs are the runs started from the alert's offer, in its order, or
// those in the thread of the batch the sweep started.
func (d *Driver) Runs(ctx context.Context) ([]*flows.Run, error) {
	if d.World.Sweep != nil {
		return d.sweptRuns(ctx)
	}
	o, err := d.Records.OfferForAlert(ctx, Channel, d.alertTS)
	if err != nil {
		return nil, fmt.Errorf("the offer of alert %s: %w", d.alertTS, err)
	}
	var ids []string
	for _, it := range o.Items {
		if it.RunID != "" {
			ids = append(ids, it.RunID)
		}
	}
	// A run that ended and gave its offer the Rotate button back is no
	// longer on the offer; it is still indexed under the thread.
	if threads, ok := d.Records.(Threads); ok {
		more, err := threads.RunsInThread(ctx, Channel, d.alertTS)
		if err != nil {
			return nil, fmt.Errorf("the runs of alert %s: %w", d.alertTS, err)
		}
		for _, id := range more {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return d.runsByID(ctx, ids)
}

func (d *Driver) runsByID(ctx context.Context, ids []string) ([]*flows.Run, error) {
	var runs []*flows.Run
	for _, id := range ids {
		r, err := d.Records.Run(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", id, err)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// Settle waits until every run started from the alert waits for a click,
// is paused or has ended, and its thread in Slack shows so.
func (d *Driver) Settle(ctx context.Context) error {
	var where []string
	err := d.until(ctx, "the runs to settle", func() (bool, error) {
		runs, err := d.Runs(ctx)
		if err != nil {
			return false, err
		}
		where = where[:0]
		settled := true
		batches := map[string][]*flows.Run{}
		for _, r := range runs {
			if r.Phase == flows.PhaseRunning || !posted(r) {
				settled = false
				where = append(where, fmt.Sprintf("run %s %s at %s", r.ID, r.Phase, r.Step))
			}
			if r.Batch != "" {
				batches[r.Batch] = append(batches[r.Batch], r)
			}
		}
		for id, members := range batches {
			ok, err := d.batchSettled(ctx, id, members)
			if err != nil {
				return false, err
			}
			if !ok {
				settled = false
				where = append(where, "batch "+id)
			}
		}
		return settled, nil
	})
	if err != nil && len(where) > 0 {
		return fmt.Errorf("%w (%s)", err, strings.Join(where, "; "))
	}
	return err
}

// batchSettled: the batch asks what its waiting runs wait for, or has
// ended once they all have, and Slack shows it.
func (d *Driver) batchSettled(ctx context.Context, id string, runs []*flows.Run) (bool, error) {
	br, ok := d.Records.(interface {
		Batch(ctx context.Context, id string) (*flows.Batch, error)
	})
	if !ok {
		return true, nil
	}
	b, err := br.Batch(ctx, id)
	if err != nil {
		return false, fmt.Errorf("batch %s: %w", id, err)
	}
	ended, atGate := 0, false
	for _, r := range runs {
		if r.Ended() {
			ended++
		}
		if r.Gate != nil && r.Gate.Batch == id && !b.Covered(r.ID, r.Gate.Kind) {
			atGate = true
		}
	}
	switch {
	case ended == len(runs) && !b.Ended, atGate && b.Gate == nil:
		return false, nil
	}
	if _, ok := b.Receipts[flows.BatchStatusID]; !ok {
		return false, nil
	}
	for _, p := range b.Posts {
		if _, ok := b.Receipts[p.ID]; !ok {
			return false, nil
		}
	}
	return true, nil
}

// posted: Slack shows every post of the run and its status message.
func posted(r *flows.Run) bool {
	if _, ok := r.Receipts[flows.StatusPostID]; !ok {
		return false
	}
	for _, p := range r.Posts {
		if _, ok := r.Receipts[p.ID]; !ok {
			return false
		}
	}
	return true
}

// until polls cond until it holds, fails, or ctx ends: what it waits for
// lives in the bot, the fake Slack and Redis, which have no common
// signal.
func (d *Driver) until(ctx context.Context, what string, cond func() (bool, error)) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: waiting for %s: %w", d.World.Name, what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", d.World.Name, what, ctx.Err())
		case <-t.C:
		}
	}
}
