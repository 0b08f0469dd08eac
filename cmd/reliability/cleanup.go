package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// cleanupLimit is how long a day's clean-up may take, its kill and
// restart included, before its runs count as stuck.
const cleanupLimit = 90 * time.Second

// cleanupPoints are where a clean-up is killed, one day each, in turn:
// just after a member records its verification (the batch has not asked
// yet), just after the batch records its revoke question, between two
// revokes of one pair (the first recorded, the second asked of Signon and
// not done), and after Signon revoked a token and before the bot heard,
// so before the run records it.
var cleanupPoints = []string{
	"clean-up verified",
	"clean-up revoke gate",
	"before a second revoke",
	"after Revoke",
}

// cleanupPair is a pair of the clean-up's estate: its synced token (the
// latest expiry) and the older unrevoked ones. A stale pair's Secret and
// pods still hold its old token, so its verification must fail.
type cleanupPair struct {
	spec       *tokenSpec
	synced     flows.Token
	superseded []flows.Token
	stale      bool
	// counted are the tokens whose wrongful revoke is counted already:
	// the pair is judged again each later day.
	counted map[int64]bool
}

// cleanupPhase runs a clean-up a "day" on one bot with a daily sweep of
// production under to-gates (production's default, set here since the
// sweep part sets off): the sweep starts one batch for
// the superseded pairs, which stops at the revoke question that Bob
// answers. The bot is killed once a day at each point in turn. Each day
// must end every clean-up run, revoke each verified pair's superseded
// tokens, and never revoke a synced token, a token of a pair that failed
// verification, or a token before its pair's consumers held the synced
// one; nothing is issued.
func (h *harness) cleanupPhase(ctx context.Context) error {
	h.sweeping.Store(true)
	h.cleaning.Store(true)
	defer h.sweeping.Store(false)
	defer h.cleaning.Store(false)
	w := h.watchCleanup(ctx)
	defer w.stop()
	rounds := 2
	if h.opt.short {
		rounds = 1
	}
	var pairs []*cleanupPair
	for i := range rounds * len(cleanupPoints) {
		day := h.cleanupEstate()
		pairs = append(pairs, day...)
		if err := h.cleanupDay(ctx, w, cleanupPoints[i%len(cleanupPoints)], day, pairs); err != nil {
			return err
		}
	}
	return nil
}

// cleanupEstate adds a day's pairs: one with a superseded token, one with
// two (so that a kill can land between revokes), one whose consumers
// still hold the old token.
func (h *harness) cleanupEstate() []*cleanupPair {
	return []*cleanupPair{h.newCleanupPair(1, false), h.newCleanupPair(2, false), h.newCleanupPair(1, true)}
}

// newCleanupPair makes an API user with n tokens that a renewal left
// behind (created two years ago, expiring within a month) and the synced
// token Signon's nightly renewal made yesterday.
func (h *harness) newCleanupPair(n int, stale bool) *cleanupPair {
	p := &cleanupPair{spec: h.newAPIUser("Reliability Cleanup"), stale: stale, counted: map[int64]bool{}}
	now := time.Now()
	for i := range n {
		created := now.AddDate(-2, 0, 20+i)
		t, _ := h.signon.AddToken(p.spec.email, appName, created, now.AddDate(0, 0, 20+i).Sub(created))
		p.superseded = append(p.superseded, t)
	}
	if stale {
		// The Secret and its pods read before the renewal.
		h.addConsumers(p.spec, true)
	}
	created := now.AddDate(0, 0, -1)
	p.synced, _ = h.signon.AddToken(p.spec.email, appName, created, created.AddDate(2, 0, 0).Sub(created))
	h.signon.SetLastSynced(p.spec.email, appName, now.Add(-time.Hour))
	if !stale {
		h.addConsumers(p.spec, true)
	}
	return p
}

// cleanupDay is one day: the sweep's clean-up, the bot killed at point,
// the revoke question answered and the paused runs cancelled as people
// would, until every clean-up run and batch has ended.
func (h *harness) cleanupDay(ctx context.Context, w *cleanupWatch, point string, day, all []*cleanupPair) error {
	killed, err := h.startDay(ctx, "cleanup", point, func(f *figures) { f.CleanupKills++ })
	defer h.killer.disarm()
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, cleanupLimit)
	defer cancel()
	pressed := map[string]press{}
	err = waitFor(dctx, "the day's clean-up, killed "+point, func() bool {
		raw, err := h.store.LastSweep(dctx, env)
		if err != nil || raw == nil {
			return false
		}
		return h.cleanupEnded(dctx, w, day, pressed)
	})
	h.killer.disarm()
	h.bots.settle()
	fired := false
	select {
	case <-killed:
		fired = true
	default:
	}
	h.judgeCleanup(point, day, all, fired, err)
	return nil
}

// cleanupEnded reports whether each of the day's pairs had a clean-up run
// and every clean-up run and batch has ended; meanwhile it answers what
// they ask: Bob approves the batch's revoke question, Alice cancels a run
// that stopped at its verification.
func (h *harness) cleanupEnded(ctx context.Context, w *cleanupWatch, day []*cleanupPair, pressed map[string]press) bool {
	runs, batches := w.seen()
	ended := true
	for _, p := range day {
		if !runs.has(p.spec.key) {
			ended = false
		}
	}
	for id := range runs.ids {
		run, err := h.store.Run(ctx, id)
		if err != nil {
			return false
		}
		if !run.Ended() {
			ended = false
			if run.Phase == flows.PhasePaused && run.Gate != nil {
				h.pressIn(run.Thread.Channel, run.Receipts, alice, blocks.GatePrefix+string(flows.ActionCancel)+":"+run.Gate.ID, pressed)
			}
		}
	}
	for id := range batches {
		b, err := h.store.Batch(ctx, id)
		if err != nil {
			return false
		}
		if !b.Ended {
			ended = false
			if b.Gate != nil && b.Gate.Kind == flows.GateRevoke {
				h.pressIn(b.Thread.Channel, b.Receipts, bob, blocks.ActionBatchApprove+":"+b.Gate.ID, pressed)
			}
		}
		for _, p := range b.Posts {
			if _, ok := b.Receipts[p.ID]; !ok {
				ended = false // its last posts are on their way
			}
		}
	}
	return ended
}

// pressIn presses the button where a record's messages show it, and
// again, as a person would, when nothing came of it for a while.
func (h *harness) pressIn(channel string, receipts map[string]flows.Receipt, user, action string, pressed map[string]press) {
	p, before := pressed[action]
	if before && !h.pressAgain(p) {
		return
	}
	for _, rc := range receipts {
		m, ok := h.slack.Message(channel, rc.TS, user)
		if !ok || !hasButton(m, action) {
			continue
		}
		d := h.slack.Click(slacktest.BlockAction{User: user, Channel: channel, MessageTS: rc.TS, ActionID: action})
		if d == nil {
			return
		}
		h.keep(d)
		if before {
			h.count(func(f *figures) { f.RepeatedPresses++ })
		}
		pressed[action] = press{at: time.Now(), start: h.botStarts()}
		return
	}
}

// judgeCleanup checks the day against Signon and the cluster: every pair
// ever made here keeps its synced token, a stale pair keeps every token,
// a verified pair of the day has each superseded token revoked once, and
// nothing was issued.
func (h *harness) judgeCleanup(point string, day, all []*cleanupPair, fired bool, err error) {
	var problems []string
	synced, heldBack, revoked, left, issued := 0, 0, 0, 0, 0
	for _, p := range all {
		ts, terr := h.signon.Tokens(context.Background(), p.spec.email, appName)
		if terr != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p.spec.email, terr))
			continue
		}
		gone := map[int64]bool{}
		for _, t := range ts.Tokens {
			gone[t.ID] = t.Revoked()
			// A token of the pair's that the part did not make: the
			// autopilot's rotations of other pairs, which the same sweep
			// may start under to-gates, do not count.
			made := t.ID == p.synced.ID || slices.ContainsFunc(p.superseded, func(s flows.Token) bool { return s.ID == t.ID })
			if !made && !p.counted[t.ID] {
				p.counted[t.ID] = true
				issued++
				problems = append(problems, fmt.Sprintf("%s: token #%d issued during a clean-up", p.spec.email, t.ID))
			}
		}
		if gone[p.synced.ID] && !p.counted[p.synced.ID] {
			p.counted[p.synced.ID] = true
			synced++
			problems = append(problems, fmt.Sprintf("%s: synced token #%d revoked", p.spec.email, p.synced.ID))
		}
		for _, t := range p.superseded {
			switch {
			case p.stale && gone[t.ID] && !p.counted[t.ID]:
				p.counted[t.ID] = true
				heldBack++
				problems = append(problems, fmt.Sprintf("%s failed verification, yet token #%d was revoked", p.spec.email, t.ID))
			case !p.stale && isToday(p, day) && h.effects.revokes(t.ID) != 1:
				left++
				problems = append(problems, fmt.Sprintf("%s: superseded token #%d revoked %d times, want 1", p.spec.email, t.ID, h.effects.revokes(t.ID)))
			case !p.stale && isToday(p, day):
				revoked++
			}
		}
	}
	var early []string
	for _, p := range day {
		early = append(early, h.effects.earlyRevokes(p.spec.email)...)
	}
	if err != nil {
		problems = append(problems, err.Error())
	}
	problems = append(problems, early...)
	h.count(func(f *figures) {
		f.CleanupDays++
		f.SupersededRevoked += revoked
		f.SupersededLeft += left
		f.SyncedRevokes += synced
		f.FailedPairRevokes += heldBack
		f.CleanupIssues += issued
		f.EarlyRevokes += len(early)
		f.FaultsInjected++
		if err != nil {
			f.StuckCleanups++
		}
		if !fired {
			f.CleanupPointsMissed++
			f.finding("clean-up: the day's kill point %q never came", point)
		}
		if len(problems) == 0 {
			f.FaultsSurvived++
			return
		}
		f.finding("clean-up killed %s: %s", point, strings.Join(problems, "; "))
	})
	h.debug("clean-up day, killed %s: %d superseded revoked, %d problems", point, revoked, len(problems))
}

func isToday(p *cleanupPair, day []*cleanupPair) bool {
	for _, d := range day {
		if d == p {
			return true
		}
	}
	return false
}

// cleanupWatch makes a clean-up's writes kill points and remembers the
// clean-up runs and batches it saw written.
type cleanupWatch struct {
	stop func()

	mu      sync.Mutex
	runs    runSet
	batches map[string]bool
}

// runSet are clean-up runs by id, and the pairs they are for.
type runSet struct {
	ids  map[string]bool
	keys map[flows.Key]bool
}

func (s runSet) has(k flows.Key) bool { return s.keys[k] }

func (w *cleanupWatch) seen() (runSet, map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rs := runSet{ids: map[string]bool{}, keys: map[flows.Key]bool{}}
	for id := range w.runs.ids {
		rs.ids[id] = true
	}
	for k := range w.runs.keys {
		rs.keys[k] = true
	}
	bs := map[string]bool{}
	for id := range w.batches {
		bs[id] = true
	}
	return rs, bs
}

// watchCleanup reads each run and batch record as it is written: a
// clean-up member that records its verification and a batch that
// records its revoke question are kill points. Redis tells of a write after it, and the record is
// read after that, so the kill lands a little after the write.
func (h *harness) watchCleanup(ctx context.Context) *cleanupWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &cleanupWatch{runs: runSet{ids: map[string]bool{}, keys: map[flows.Key]bool{}}, batches: map[string]bool{}}
	prefix := "__keyspace@0__:" + statePfx + ":{" + statePfx + "}:"
	ps := h.rdb.PSubscribe(ctx, prefix+"run:*", prefix+"batch:*")
	// Subscribed before any bot starts, so that no write goes unseen.
	if _, err := ps.Receive(ctx); err != nil {
		h.say("clean-up phase: subscribe to run and batch writes: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchSets(ctx, ps, func(channel string) {
			kind, id, _ := strings.Cut(strings.TrimPrefix(channel, prefix), ":")
			if kind == "batch" {
				w.batchWritten(ctx, h, id)
			} else {
				w.runWritten(ctx, h, id)
			}
		})
	}()
	w.stop = func() { cancel(); <-done }
	return w
}

func (w *cleanupWatch) runWritten(ctx context.Context, h *harness, id string) {
	run, err := h.store.Run(ctx, id)
	if err != nil || run.Mode != flows.ModeCleanup {
		return
	}
	w.mu.Lock()
	w.runs.ids[id], w.runs.keys[run.Key] = true, true
	if run.Batch != "" {
		w.batches[run.Batch] = true
	}
	w.mu.Unlock()
	if v, _ := run.StepState(flows.StepVerify); v.Status == flows.StepOK && run.Gate != nil && run.Gate.Kind == flows.GateRevoke {
		h.killer.point("clean-up verified")
	}
}

func (w *cleanupWatch) batchWritten(ctx context.Context, h *harness, id string) {
	w.mu.Lock()
	ours := w.batches[id]
	w.mu.Unlock()
	if !ours {
		return
	}
	b, err := h.store.Batch(ctx, id)
	if err == nil && b.Gate != nil && b.Gate.Kind == flows.GateRevoke {
		h.killer.point("clean-up revoke gate")
	}
}
