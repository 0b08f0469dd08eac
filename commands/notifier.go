package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	Slack  SlackAPI
	Render blocks.Renderer
	// Offers and Runs let the notifier re-render the offer a run came
	// from when the run starts or ends.
	Offers flows.OfferStore
	Runs   runReader
	Clock  flows.Clock
	Logger *slog.Logger
	// Coalesce is the least time between two flushes of a running run's
	// thread: changes in between are sent together, later. A run that
	// waits, pauses or ends is flushed at once. Default 3s, which keeps
	// chat.update well inside Slack's 50 a minute.
	Coalesce time.Duration
	// AfterFunc schedules a deferred flush: time.AfterFunc by default.
	// It returns a function that cancels the flush.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// Notifier is flows.Notifier for Slack: one status message per run,
// edited in place, and the run's posts as thread replies. Posts that a
// run makes between two flushes go out as one message, and a running
// run's edits are coalesced, so that a rotation costs a dozen calls.
type Notifier struct {
	cfg    NotifierConfig
	offers *offerPages
	log    *slog.Logger

	mu      sync.Mutex
	threads map[string]*thread
	batches map[string]*batchThread
	closed  bool
}

// thread is what this replica knows of one run's thread.
type thread struct {
	// mu serialises the flushes of the run.
	mu sync.Mutex
	// latest is the newest copy of the run seen, for a deferred flush.
	latest *flows.Run
	// receipts are what this replica put in Slack; they may be newer
	// than the run's (a deferred flush's).
	receipts  map[string]flows.Receipt
	lastFlush time.Time
	stop      func() bool
	// offerState is how the run's offer item last showed it: "active"
	// or the run's outcome.
	offerState string
	// routes are the response_urls of clicks on the run's messages and
	// its offer, by message ts, for replacing those messages later.
	routes map[string]*heldRoute
}

// NewNotifier makes a Notifier.
func NewNotifier(cfg NotifierConfig) *Notifier {
	if cfg.Clock == nil {
		cfg.Clock = flows.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 3 * time.Second
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	n := &Notifier{
		cfg:     cfg,
		log:     cfg.Logger,
		offers:  &offerPages{slack: cfg.Slack, render: cfg.Render, store: cfg.Offers, clock: cfg.Clock, log: cfg.Logger},
		threads: map[string]*thread{},
	}
	if cfg.Runs != nil {
		n.offers.runs = cfg.Runs.Run
	}
	return n
}

// Close cancels the deferred flushes. What they would have sent is sent
// when the engine next publishes the run (it drives runs whose posts
// have no receipt).
func (n *Notifier) Close() {
	n.mu.Lock()
	n.closed = true
	threads := make([]*thread, 0, len(n.threads))
	for _, th := range n.threads {
		threads = append(threads, th)
	}
	batches := make([]*batchThread, 0, len(n.batches))
	for _, bt := range n.batches {
		batches = append(batches, bt)
	}
	n.mu.Unlock()
	for _, bt := range batches {
		bt.mu.Lock()
		if bt.stop != nil {
			bt.stop()
			bt.stop = nil
		}
		bt.mu.Unlock()
	}
	// A thread's lock is taken before the notifier's, never after.
	for _, th := range threads {
		th.mu.Lock()
		if th.stop != nil {
			th.stop()
			th.stop = nil
		}
		th.mu.Unlock()
	}
}

func (n *Notifier) thread(id string) *thread {
	n.mu.Lock()
	defer n.mu.Unlock()
	th, ok := n.threads[id]
	if !ok {
		th = &thread{receipts: map[string]flows.Receipt{}}
		n.threads[id] = th
	}
	return th
}

func (n *Notifier) forget(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.threads, id)
}

// Sync brings the run's thread in line with the run, now or, for a
// running run flushed less than Coalesce ago, a little later. A click on
// one of the run's messages is answered at once.
func (n *Notifier) Sync(ctx context.Context, run *flows.Run) (map[string]flows.Receipt, error) {
	th := n.thread(run.ID)
	th.mu.Lock()
	defer th.mu.Unlock()
	th.holdRoute(ctx, run.Thread.Channel, n.cfg.Clock.Now())
	snapshot, err := cloneRun(run)
	if err != nil {
		return nil, err
	}
	th.latest = snapshot
	known := th.known(run.Receipts)
	now := n.cfg.Clock.Now()
	unposted := known[flows.StatusPostID].TS == ""
	// A run without a thread needs its status message at once: that is
	// the thread. One in an alert's thread (the click's answer already
	// says it started) posts its status when it first stops or after
	// Coalesce, so that the first checklist is not edited a moment later.
	urgent := run.Phase != flows.PhaseRunning || run.EndAs != "" || (unposted && run.Thread.TS == "")
	if unposted && th.lastFlush.IsZero() {
		th.lastFlush = now
	}
	var ferr error
	switch {
	case urgent || now.Sub(th.lastFlush) >= n.cfg.Coalesce:
		if th.stop != nil {
			th.stop()
			th.stop = nil
		}
		th.lastFlush = now
		ferr = n.flush(ctx, snapshot, th, "")
	default:
		if r, ok := clicked(ctx); ok && r.channel == run.Thread.Channel {
			ferr = n.flush(ctx, snapshot, th, r.ts)
		}
		n.later(th, run.ID, th.lastFlush.Add(n.cfg.Coalesce).Sub(now))
	}
	if th.stop == nil {
		// Only a deferred flush reads the copy; a run parked at a gate
		// (most runs, most of the time) keeps none.
		th.latest = nil
	}
	out := map[string]flows.Receipt{}
	for id, rc := range th.receipts {
		if run.Receipts[id] != rc {
			out[id] = rc
		}
	}
	if run.Ended() {
		if th.stop != nil {
			th.stop()
			th.stop = nil
		}
		n.forget(run.ID)
	}
	return out, ferr
}

// later schedules a flush of the run's latest copy, unless one is due.
func (n *Notifier) later(th *thread, id string, d time.Duration) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if th.stop != nil || closed {
		return
	}
	th.stop = n.cfg.AfterFunc(d, func() { n.flushLater(th, id) })
}

func (n *Notifier) flushLater(th *thread, id string) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.stop = nil
	if th.latest == nil {
		return
	}
	th.lastFlush = n.cfg.Clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.flush(ctx, th.latest, th, ""); err != nil {
		n.log.Warn("deferred update of a run's thread", "run", id, "err", err)
	}
}

// known merges what the run records with what this replica sent.
func (th *thread) known(stored map[string]flows.Receipt) map[string]flows.Receipt {
	out := make(map[string]flows.Receipt, len(stored)+len(th.receipts))
	for id, rc := range stored {
		out[id] = rc
	}
	for id, rc := range th.receipts {
		out[id] = rc
	}
	return out
}

// flush sends the thread's changes: the status message, the edits of
// posted messages and the new posts, as few messages as fit. With only
// set, it edits only that message (a click's answer).
func (n *Notifier) flush(ctx context.Context, run *flows.Run, th *thread, only string) error {
	known := th.known(run.Receipts)
	record := func(id string, rc flows.Receipt) { th.receipts[id] = rc }
	threadTS := run.Thread.TS
	r := n.cfg.Render

	if run.Batch != "" {
		// The batch's status message shows the run.
		record(flows.StatusPostID, flows.Receipt{Digest: "batch"})
	} else if only == "" {
		st := r.Status(run)
		d := digest(st)
		switch rc, ok := known[flows.StatusPostID]; {
		case !ok:
			ts, err := n.post(ctx, run.Thread.Channel, threadTS, st)
			if err != nil {
				return fmt.Errorf("post the status of run %s: %w", run.ID, err)
			}
			record(flows.StatusPostID, flows.Receipt{TS: ts, Digest: d})
			if threadTS == "" {
				threadTS = ts
			}
		case rc.Digest != d:
			if err := n.edit(ctx, run.Thread.Channel, rc.TS, st); err != nil {
				return fmt.Errorf("update the status of run %s: %w", run.ID, err)
			}
			record(flows.StatusPostID, flows.Receipt{TS: rc.TS, Digest: d})
		}
	}
	if threadTS == "" {
		return fmt.Errorf("run %s has no thread yet", run.ID)
	}

	// Edit the messages whose posts render differently, each as a whole.
	var order []string
	groups := map[string][]flows.Post{}
	var fresh []flows.Post
	for _, p := range run.Posts {
		rc, ok := known[p.ID]
		if p.Quiet {
			record(p.ID, flows.Receipt{Digest: "batch"})
			continue
		}
		if !ok {
			fresh = append(fresh, p)
			continue
		}
		if _, seen := groups[rc.TS]; !seen {
			order = append(order, rc.TS)
		}
		groups[rc.TS] = append(groups[rc.TS], p)
	}
	if only == "" {
		// Before the fold, which may take the fresh posts: the offer gets
		// its buttons back before the thread says so.
		if err := n.offerBack(ctx, run, fresh); err != nil {
			return err
		}
	}
	if only == "" && len(fresh) > 0 && len(order) > 0 && (run.Ended() || run.EndAs != "") {
		last := order[len(order)-1]
		if n.fold(ctx, run, th, last, groups[last], fresh, record) {
			order, fresh = order[:len(order)-1], nil
		}
	}
	for _, ts := range order {
		if only != "" && ts != only {
			continue
		}
		posts := groups[ts]
		changed := false
		for _, p := range posts {
			if known[p.ID].Digest != digest(r.Post(run, p)) {
				changed = true
			}
		}
		if !changed {
			continue
		}
		if err := n.edit(ctx, run.Thread.Channel, ts, r.Posts(run, posts)); err != nil {
			return fmt.Errorf("update a post of run %s: %w", run.ID, err)
		}
		for _, p := range posts {
			record(p.ID, flows.Receipt{TS: ts, Digest: digest(r.Post(run, p))})
		}
	}
	if only != "" {
		return nil
	}

	// Post the new posts, as many to a message as Block Kit allows.
	for len(fresh) > 0 {
		// PostBlocks counts a divider the first post does not have.
		k, used := 0, -1
		for k < len(fresh) {
			b := r.PostBlocks(run, fresh[k])
			if k > 0 && used+b > blocks.MaxBlocks {
				break
			}
			used += b
			k++
		}
		batch := fresh[:k]
		fresh = fresh[k:]
		ts, err := n.post(ctx, run.Thread.Channel, threadTS, r.Posts(run, batch))
		if err != nil {
			return fmt.Errorf("post to the thread of run %s: %w", run.ID, err)
		}
		for _, p := range batch {
			record(p.ID, flows.Receipt{TS: ts, Digest: digest(r.Post(run, p))})
		}
	}
	n.offerChanged(ctx, run, th)
	return nil
}

// fold puts the last replies of a run that ended into the run's latest
// message, when a click on that message left a response_url to replace it
// through and the whole fits one message: the click's answer then shows
// how the run ended, for no Web API call and no place in chat.postMessage's
// bucket. Replies that ask a question are always posted as new messages,
// since only a new message notifies the thread.
func (n *Notifier) fold(ctx context.Context, run *flows.Run, th *thread, ts string, posts, fresh []flows.Post, record func(string, flows.Receipt)) bool {
	r := n.cfg.Render
	all := append(slices.Clip(posts), fresh...)
	used := -1
	for _, p := range all {
		used += r.PostBlocks(run, p)
	}
	for _, p := range fresh {
		if p.Gate != "" {
			return false
		}
	}
	if used > blocks.MaxBlocks {
		return false
	}
	url, ok := th.takeRoute(ts, n.cfg.Clock.Now())
	if !ok {
		return false
	}
	m := r.Posts(run, all)
	if err := n.cfg.Slack.Respond(ctx, url, slack.Reply{Text: m.Text, Blocks: m.Blocks, ReplaceOriginal: true}); err != nil {
		th.dropRoute(ts)
		n.log.InfoContext(ctx, "replace through a held response_url failed, posting instead", "run", run.ID, "err", err)
		return false
	}
	for _, p := range all {
		record(p.ID, flows.Receipt{TS: ts, Digest: digest(r.Post(run, p))})
	}
	return true
}

// offerChanged re-renders the offer a run came from when the run started
// or ended: between those the offer only links to the run's thread.
func (n *Notifier) offerChanged(ctx context.Context, run *flows.Run, th *thread) {
	if run.Origin.OfferID == "" || run.Batch != "" || n.cfg.Offers == nil || n.cfg.Runs == nil {
		return
	}
	state := "active"
	if run.Ended() || run.EndAs != "" {
		state = string(run.Outcome())
	}
	if th.offerState == "" && state == "active" {
		// The click that started the run rendered it.
		th.offerState = state
	}
	if th.offerState == state {
		return
	}
	th.offerState = state
	o, err := n.cfg.Offers.Offer(ctx, run.Origin.OfferID)
	if err != nil {
		n.log.WarnContext(ctx, "load the offer of a run", "run", run.ID, "offer", run.Origin.OfferID, "err", err)
		return
	}
	var items []string
	for _, it := range o.Items {
		if it.RunID == run.ID {
			items = append(items, it.ID)
		}
	}
	if len(items) == 0 {
		return
	}
	// The click that started the run may replace its offer page again.
	for _, ts := range o.Messages {
		if url, ok := th.takeRoute(ts, n.cfg.Clock.Now()); ok {
			ctx = withRoute(ctx, run.Thread.Channel, ts, url)
			break
		}
	}
	if err := n.offers.refresh(ctx, o, run, items...); err != nil {
		n.log.WarnContext(ctx, "update the offer of a run", "run", run.ID, "offer", o.ID, "err", err)
	}
}

func (n *Notifier) post(ctx context.Context, channel, threadTS string, m blocks.Message) (string, error) {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(m.Text, false), slackapi.MsgOptionBlocks(m.Blocks...), slackapi.MsgOptionDisableLinkUnfurl()}
	if threadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(threadTS))
	}
	return n.cfg.Slack.PostMessage(ctx, channel, opts...)
}

func (n *Notifier) edit(ctx context.Context, channel, ts string, m blocks.Message) error {
	return n.offers.edit(ctx, channel, ts, m)
}

// digest identifies a rendered message, so that it is edited only when
// it would change.
func digest(m blocks.Message) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("commands: marshal a rendered message: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// cloneRun copies a run deeply: the engine goes on changing its own.
func cloneRun(run *flows.Run) (*flows.Run, error) {
	b, err := json.Marshal(run)
	if err != nil {
		return nil, fmt.Errorf("copy run %s: %w", run.ID, err)
	}
	var out flows.Run
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, errors.Join(fmt.Errorf("copy run %s", run.ID), err)
	}
	return &out, nil
}

var _ flows.Notifier = (*Notifier)(nil)
