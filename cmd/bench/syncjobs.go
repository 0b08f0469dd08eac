package main

import (
	"context"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// syncJobsResult is how many sync Jobs many runs in one environment made.
type syncJobsResult struct {
	Runs, Ended, Done int
	// Jobs are the sync Jobs the bot created; MaxRunning the most that
	// ran at once.
	Jobs, MaxRunning int
	Elapsed          time.Duration
}

// benchSyncJobs types /rotate-token for SyncRuns production tokens at
// once, against a fake Slack without rate limits and a cluster whose
// sync Job takes SyncTime, passes each gate as soon as it is asked (Alice
// the sync, Bob the revoke, Alice retries a paused run), and counts the
// sync Jobs the bot created until every run ended.
func (e *bench) benchSyncJobs(ctx context.Context) (syncJobsResult, error) {
	res := syncJobsResult{Runs: e.sz.SyncRuns}
	fake := newSlack(e.h, false)
	w := newWorld(e.h, map[string]int{flows.Production: res.Runs})
	cl := w.Cluster[flows.Production]
	cl.SyncTime = e.sz.SyncTime
	bot, store, err := e.bot(ctx, "syncjobs", fake, w)
	if err != nil {
		return res, err
	}
	defer bot.stop(10 * time.Second)

	began := time.Now()
	for _, t := range w.Tokens[flows.Production] {
		rotateToken(fake, alice, opsChannel, t, flows.Production)
	}
	d := &stormDriver{fake: fake, store: store, clicked: map[string]*envelope{}, runs: map[string]*flows.Run{}}
	pctx, cancel := context.WithTimeout(ctx, e.sz.StormTimeout)
	defer cancel()
	err = poll(pctx, 100*time.Millisecond, "every run to end", func() (bool, error) {
		if _, err := d.step(ctx); err != nil {
			return false, err
		}
		return len(d.runs) == res.Runs && d.ended() == res.Runs, nil
	})
	res.Elapsed = time.Since(began)
	res.Ended, res.Jobs, res.MaxRunning = d.ended(), cl.JobsCreated(), cl.MaxRunning()
	for _, r := range d.runs {
		if r.Phase == flows.PhaseDone {
			res.Done++
		}
	}
	return res, err
}
