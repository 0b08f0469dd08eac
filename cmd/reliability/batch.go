package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// batchSize is the tokens the crash part's batch rotates: a cluster of
// tokens made together, as issue 15 has it.
const batchSize = 20

// batchLimit is how long the batch may take, kills and restarts included,
// before it counts as stuck: its runs share gates, so it takes little
// longer than one rotation, but every member has its steps to do.
const batchLimit = 3 * rotationLimit

// batchDrive rotates batchSize tokens as one batch started with
// /rotate-token and batchSize pairs, as Alice and Bob would whatever
// happens to the bot: the command typed again for the tokens that have
// no run after a while, each batch gate answered once the bot shows it
// (Alice the sync, Bob the revoke), a member that stopped alone retried.
type batchDrive struct {
	h     *harness
	specs []*tokenSpec
	// rots find each member's run and answer the gates it asks alone.
	rots    []*rotation
	command *press
	// batches are every batch a member ran in, as last loaded: a crash
	// while the batch starts can leave some tokens to a second command,
	// and so to a second batch.
	batches map[string]*flows.Batch
	pressed map[string]press
}

func (h *harness) newBatchDrive() *batchDrive {
	d := &batchDrive{h: h, batches: map[string]*flows.Batch{}, pressed: map[string]press{}}
	for range batchSize {
		s := h.newSpec(false)
		d.specs = append(d.specs, s)
		d.rots = append(d.rots, h.newRotation(s, viaCommand))
	}
	return d
}

// drive runs the batch until every member run and every batch ended, or
// the time is up (errStuck).
func (d *batchDrive) drive(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := waitFor(ctx, fmt.Sprintf("the batch of %d", batchSize), func() bool {
		ended := true
		var missing []*tokenSpec
		for i, r := range d.rots {
			run := r.find(ctx)
			if run == nil {
				missing = append(missing, d.specs[i])
				ended = false
				continue
			}
			r.last = run
			if run.Batch != "" {
				if _, ok := d.batches[run.Batch]; !ok {
					d.batches[run.Batch] = nil
				}
			}
			if !run.Ended() {
				ended = false
				// A member that stopped alone asks its own gate in the
				// thread; one waiting at a batch gate has no post of its own.
				if run.Phase != flows.PhaseRunning && run.Gate != nil {
					r.answer(run)
				}
			}
		}
		if len(missing) > 0 {
			d.start(missing)
		}
		for id := range d.batches {
			b, err := d.h.store.Batch(ctx, id)
			if err != nil {
				ended = false // Redis is down, or the bot is writing it: look again
				continue
			}
			d.batches[id] = b
			if !b.Ended {
				ended = false
				d.answer(b)
			}
			for _, p := range b.Posts {
				if _, ok := b.Receipts[p.ID]; !ok {
					ended = false // its last posts are on their way
				}
			}
		}
		return ended
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s", errStuck, d.describe())
	}
	return err
}

// start types /rotate-token with a pair per token that has no run, once,
// and again when nothing came of it.
func (d *batchDrive) start(missing []*tokenSpec) {
	if d.command != nil && !d.rots[0].again(*d.command) {
		return
	}
	if d.command != nil {
		d.h.count(func(f *figures) { f.RepeatedPresses++ })
	}
	d.command = &press{at: time.Now(), start: d.h.botStarts()}
	var pairs []string
	for _, s := range missing {
		pairs = append(pairs, s.email, appSlug)
	}
	d.h.keep(d.h.slack.SendSlashCommand(slacktest.SlashCommand{
		Command: commands.CommandName, Text: strings.Join(append(pairs, env), " "), User: alice, Channel: ops,
	}))
}

// answer presses the batch's open gate where the thread shows it.
func (d *batchDrive) answer(b *flows.Batch) {
	if b.Gate == nil {
		return
	}
	user := alice
	if b.Gate.Kind == flows.GateRevoke {
		user = bob
	}
	action := blocks.ActionBatchApprove + ":" + b.Gate.ID
	if p, ok := d.pressed[b.Gate.ID]; ok && !d.rots[0].again(p) {
		return
	}
	for _, rc := range b.Receipts {
		m, ok := d.h.slack.Message(b.Thread.Channel, rc.TS, user)
		if !ok || !hasButton(m, action) {
			continue
		}
		dl := d.h.slack.Click(slacktest.BlockAction{User: user, Channel: b.Thread.Channel, MessageTS: rc.TS, ActionID: action})
		if dl == nil {
			return
		}
		d.h.keep(dl)
		if _, before := d.pressed[b.Gate.ID]; before {
			d.h.count(func(f *figures) { f.RepeatedPresses++ })
		}
		d.pressed[b.Gate.ID] = press{at: time.Now(), start: d.h.botStarts()}
		return
	}
}

func (d *batchDrive) describe() string {
	var open []string
	for _, r := range d.rots {
		switch {
		case r.last == nil:
			open = append(open, r.spec.email+": no run")
		case !r.last.Ended():
			open = append(open, fmt.Sprintf("%s: run %s %s at %s", r.spec.email, r.last.ID, r.last.Phase, r.last.Step))
		}
	}
	for id, b := range d.batches {
		if b != nil && !b.Ended {
			gate := "no gate"
			if b.Gate != nil {
				gate = string(b.Gate.Kind) + " gate for " + fmt.Sprint(len(b.Covers))
			}
			open = append(open, fmt.Sprintf("batch %s open (%s)", id, gate))
		}
	}
	return strings.Join(open, "; ")
}

// judgeBatch checks the batch as it checks a rotation, member by member
// (one new token each, none revoked before its consumers held the new
// one, every post in the thread), and the batch as a whole: every batch
// ended, and no more sync Jobs than batches, since a batch's runs are
// synced together.
func (h *harness) judgeBatch(ctx context.Context, d *batchDrive, err error) (ok bool) {
	ok = true
	for _, r := range d.rots {
		v := h.judge(ctx, "batch", r.spec, r.last, err)
		ok = ok && v.ok()
	}
	// The batch's Job is started under the run that reached the sync
	// first: count them all. A crash as the batch starts leaves tokens
	// with no run, which the drive starts with the command typed again: a
	// second batch if several, a run on its own (alone) if one, which
	// shares no batch's gate and syncs alone when its token came after
	// the batch's Job started.
	jobs, next, alone := 0, 0, 0
	for _, r := range d.rots {
		if r.last == nil {
			continue
		}
		jobs += h.effects.jobsOf(r.last.ID)
		next += h.effects.nextJobsOf(r.last.ID)
		if r.last.Batch == "" {
			alone++
		}
	}
	stuck := 0
	for id, b := range d.batches {
		if b == nil || !b.Ended {
			stuck++
			h.count(func(f *figures) { f.finding("batch: batch %s did not end", id) })
		}
	}
	for id, b := range d.batches {
		if b == nil {
			continue
		}
		accounted := map[string]bool{b.Thread.TS: true}
		for _, rc := range b.Receipts {
			accounted[rc.TS] = true
		}
		for _, r := range d.rots {
			if r.last != nil && r.last.Batch == id {
				for _, rc := range r.last.Receipts {
					accounted[rc.TS] = true
				}
			}
		}
		orphans := h.orphans(b.Thread, accounted)
		h.count(func(f *figures) {
			f.UnrecordedPosts += len(orphans)
			for _, o := range orphans {
				f.finding("batch: batch %s's thread has a message %s", id, o)
			}
		})
	}
	// A member handed a Job that turns out not to serve it (another
	// batch's, or a rotation's, started in the same second as its token,
	// or running from before it) starts the next one, as the flows
	// intend: whole-second start times cannot tell. Each such Job is
	// allowed; a member that starts a second Job otherwise is not.
	want := max(1, len(d.batches)+alone) + next
	h.count(func(f *figures) {
		f.BatchRuns += len(d.rots)
		f.Batches += len(d.batches)
		f.BatchRunsAlone += alone
		f.BatchNextJobs += next
		f.BatchJobs += jobs
		f.StuckBatches += stuck
		if jobs > want {
			f.DuplicateEffects += jobs - want
			f.finding("batch: %d sync Jobs for %d batch(es), %d run(s) alone and %d Job(s) after a shared one of %d tokens, want at most %d", jobs, len(d.batches), alone, next, batchSize, want)
		}
	})
	return ok && stuck == 0 && jobs <= want
}

// batchKillSpread is the range each of the batch's kills is drawn from,
// counted from the start or the last restart, so that they fall through
// the whole batch: a rotation passes points kill points, a batch fewer
// than batchSize times as many (its Signon and cluster calls are as many,
// its Slack calls fewer), about half of them by measure.
func batchKillSpread(points, kills int) int {
	return max(1, points*batchSize/(2*max(1, kills)))
}

// batchKills are the kills of the batch: a tenth of the part's, at least
// 3 and at most 10, none when the part kills nothing.
func batchKills(kills int) int {
	if kills == 0 {
		return 0
	}
	return min(10, max(3, kills/10))
}
