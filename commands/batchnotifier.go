package commands

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// batchThread is what this replica knows of one batch's thread.
type batchThread struct {
	mu       sync.Mutex
	receipts map[string]flows.Receipt
	// lastEdit is when the status was last edited; pending is the status
	// a deferred edit will send.
	lastEdit time.Time
	pending  []blocks.Message
	stop     func() bool
	// offerDone: the offer was redrawn for the batch's end.
	offerDone bool
}

// SyncBatch brings a batch's thread in line: its status pages and its
// posts. Status edits while runs move are coalesced as a run's are, so a
// batch's Slack calls grow with its steps, not its tokens; a new post, a
// new page and the batch's end go out at once.
func (n *Notifier) SyncBatch(ctx context.Context, b *flows.Batch, runs []*flows.Run) (map[string]flows.Receipt, error) {
	bt := n.batchThread(b.ID)
	bt.mu.Lock()
	defer bt.mu.Unlock()
	known := map[string]flows.Receipt{}
	for id, rc := range b.Receipts {
		known[id] = rc
	}
	for id, rc := range bt.receipts {
		known[id] = rc
	}
	threadTS := b.Thread.TS
	r := n.cfg.Render
	record := func(id string, rc flows.Receipt) { bt.receipts[id] = rc }
	post := func(id string, m blocks.Message) error {
		ts, err := n.post(ctx, b.Thread.Channel, threadTS, m)
		if err != nil {
			return fmt.Errorf("post to the thread of batch %s: %w", b.ID, err)
		}
		record(id, flows.Receipt{TS: ts, Digest: digest(m)})
		if threadTS == "" {
			threadTS = ts
		}
		return nil
	}

	status := r.BatchStatus(b, runs)
	var edits []int
	for i, m := range status {
		id := blocks.BatchPageID(flows.BatchStatusID, i)
		rc, ok := known[id]
		switch {
		case !ok:
			if err := post(id, m); err != nil {
				return n.batchOut(b, bt), err
			}
		case rc.Digest != digest(m):
			edits = append(edits, i)
		}
	}
	urgent := b.Ended || n.cfg.Clock.Now().Sub(bt.lastEdit) >= n.cfg.Coalesce
	for _, p := range b.Posts {
		if _, ok := known[p.ID]; !ok {
			urgent = true
		}
	}
	if len(edits) > 0 {
		if urgent {
			if bt.stop != nil {
				bt.stop()
				bt.stop = nil
			}
			if err := n.editStatus(ctx, b, bt, status); err != nil {
				return n.batchOut(b, bt), err
			}
		} else {
			bt.pending = status
			n.laterBatch(bt, b, n.cfg.Coalesce-n.cfg.Clock.Now().Sub(bt.lastEdit))
		}
	}

	for _, p := range b.Posts {
		for i, m := range r.BatchPost(b, p) {
			id := blocks.BatchPageID(p.ID, i)
			rc, ok := known[id]
			switch {
			case !ok:
				if err := post(id, m); err != nil {
					return n.batchOut(b, bt), err
				}
			case rc.Digest != digest(m):
				if err := n.edit(ctx, b.Thread.Channel, rc.TS, m); err != nil {
					return n.batchOut(b, bt), fmt.Errorf("update a post of batch %s: %w", b.ID, err)
				}
				record(id, flows.Receipt{TS: rc.TS, Digest: digest(m)})
			}
		}
	}
	if b.Ended && !bt.offerDone {
		bt.offerDone = true
		n.batchOffer(ctx, b)
	}
	out := n.batchOut(b, bt)
	if b.Ended && len(out) == 0 && bt.stop == nil {
		n.mu.Lock()
		delete(n.batches, b.ID)
		n.mu.Unlock()
	}
	return out, nil
}

// editStatus edits the status pages that changed.
func (n *Notifier) editStatus(ctx context.Context, b *flows.Batch, bt *batchThread, status []blocks.Message) error {
	bt.lastEdit = n.cfg.Clock.Now()
	bt.pending = nil
	for i, m := range status {
		id := blocks.BatchPageID(flows.BatchStatusID, i)
		rc, ok := bt.receipts[id]
		if !ok {
			rc, ok = b.Receipts[id]
		}
		if !ok || rc.Digest == digest(m) {
			continue
		}
		if err := n.edit(ctx, b.Thread.Channel, rc.TS, m); err != nil {
			return fmt.Errorf("update the status of batch %s: %w", b.ID, err)
		}
		bt.receipts[id] = flows.Receipt{TS: rc.TS, Digest: digest(m)}
	}
	return nil
}

// laterBatch schedules the pending status edit, unless one is due.
func (n *Notifier) laterBatch(bt *batchThread, b *flows.Batch, d time.Duration) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if bt.stop != nil || closed {
		return
	}
	snapshot := *b
	bt.stop = n.cfg.AfterFunc(d, func() {
		bt.mu.Lock()
		defer bt.mu.Unlock()
		bt.stop = nil
		if bt.pending == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.editStatus(ctx, &snapshot, bt, bt.pending); err != nil {
			n.log.Warn("deferred update of a batch's status", "batch", b.ID, "err", err)
		}
	})
}

// batchOut is the receipts the batch's record does not have yet.
func (n *Notifier) batchOut(b *flows.Batch, bt *batchThread) map[string]flows.Receipt {
	out := map[string]flows.Receipt{}
	for id, rc := range bt.receipts {
		if b.Receipts[id] != rc {
			out[id] = rc
		}
	}
	return out
}

// batchOffer redraws the offer a batch came from once it ends: its
// items' runs ended without each redrawing it.
func (n *Notifier) batchOffer(ctx context.Context, b *flows.Batch) {
	if b.Origin.OfferID == "" || n.cfg.Offers == nil || n.cfg.Runs == nil {
		return
	}
	o, err := n.reopenBatch(ctx, b)
	if err != nil {
		n.log.WarnContext(ctx, "load the offer of a batch", "batch", b.ID, "offer", b.Origin.OfferID, "err", err)
		return
	}
	if err := n.offers.refresh(ctx, o, nil); err != nil {
		n.log.WarnContext(ctx, "update the offer of a batch", "batch", b.ID, "offer", o.ID, "err", err)
	}
}

func (n *Notifier) batchThread(id string) *batchThread {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.batches == nil {
		n.batches = map[string]*batchThread{}
	}
	bt, ok := n.batches[id]
	if !ok {
		bt = &batchThread{receipts: map[string]flows.Receipt{}}
		n.batches[id] = bt
	}
	return bt
}

var _ flows.BatchNotifier = (*Notifier)(nil)
