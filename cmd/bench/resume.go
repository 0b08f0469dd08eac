package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/state"
)

// resumeResult is a start-up with many active runs in Redis.
type resumeResult struct {
	Runs, Running int
	// Took is from the bot's exec to every run in hand: the interrupted
	// runs resumed and parked at their gate, and every waiting run looked
	// at.
	Took time.Duration
	// Connected is from exec to the Socket Mode connection.
	Connected time.Duration
	// BareRead is the baseline: reading and decoding every run once with
	// one pipeline of GETs on one connection, the best of three.
	BareRead time.Duration
	// SlackCalls are the Web API calls the resume made.
	SlackCalls int
}

// benchResume writes Resume active runs into Redis with the state store:
// most parked at their sync gate with every message in Slack, as runs
// spend hours there, and ResumeActive interrupted just after they
// started, before their first message (a crash), spread through the
// list with the newest among them. It then starts the bot and waits
// until the interrupted runs have been driven to their sync gate. The
// engine's start-up sweep takes runs oldest first, so the newest one
// parked means every run was looked at.
func (e *bench) benchResume(ctx context.Context) (resumeResult, error) {
	res := resumeResult{Runs: e.sz.Resume, Running: min(e.sz.ResumeActive, e.sz.Resume)}
	fake := newSlack(e.h, false)
	w := newWorld(e.h, map[string]int{flows.Production: res.Running})
	const prefix = "bench-resume"
	rdb := e.redis.Client()
	store, err := state.New(rdb, state.Options{Prefix: prefix, OpTimeout: time.Minute})
	if err != nil {
		return res, err
	}

	base := time.Now().UTC().Add(-time.Hour)
	runs := make([]*flows.Run, res.Runs)
	var running []string
	next := 0
	every := res.Runs / max(res.Running, 1)
	for i := range res.Runs {
		at := base.Add(time.Duration(i) * time.Millisecond)
		if res.Running > 0 && (res.Runs-1-i)%every == 0 && next < res.Running {
			t := w.Tokens[flows.Production][next]
			ts, err := w.Signon[flows.Production].Tokens(ctx, t.Email, t.Application)
			if err != nil {
				return res, err
			}
			runs[i] = startedRun(fmt.Sprintf("r-resume-%05d", i), t.Key(flows.Production), ts, at)
			running = append(running, runs[i].ID)
			next++
			continue
		}
		runs[i] = parkedRun(fmt.Sprintf("r-resume-%05d", i), i, at)
	}
	e.progress("resume: writing %d runs", len(runs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, r := range runs {
		g.Go(func() error { return store.CreateRun(gctx, r) })
	}
	if err := g.Wait(); err != nil {
		return res, err
	}

	// The baseline: one pipeline of GETs, decoded, the best of three, as
	// one read on a shared machine can be twice another.
	keys := make([]string, len(runs))
	for i, r := range runs {
		keys[i] = prefix + ":{" + prefix + "}:run:" + r.ID
	}
	for range 3 {
		took, err := e.bareRead(ctx, keys)
		if err != nil {
			return res, err
		}
		if res.BareRead == 0 || took < res.BareRead {
			res.BareRead = took
		}
	}

	bot, err := startBot(ctx, e.bins.Bot, botSetup{Name: "resume", Fake: fake, Redis: e.redis.Addr(), Prefix: prefix, Sandbox: w.URL(), Dir: e.dir, Env: e.profileEnv("resume")})
	if err != nil {
		return res, err
	}
	defer bot.stop(10 * time.Second)
	connected := make(chan time.Time, 1)
	go func() {
		if fake.WaitConnected(ctx, 1) == nil {
			connected <- time.Now()
		}
	}()
	last := running[len(running)-1]
	err = poll(ctx, 10*time.Millisecond, "the interrupted runs to park", func() (bool, error) {
		r, err := store.Run(ctx, last)
		if err != nil || !parked(r, flows.GateSync) {
			return false, err
		}
		for _, id := range running {
			r, err := store.Run(ctx, id)
			if err != nil || !parked(r, flows.GateSync) {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return res, err
	}
	res.Took = time.Since(bot.started)
	select {
	case at := <-connected:
		res.Connected = at.Sub(bot.started)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	for _, c := range fake.Calls() {
		if c.Method != "apps.connections.open" && c.Method != "auth.test" {
			res.SlackCalls++
		}
	}
	active, err := store.ActiveRuns(ctx)
	if err != nil {
		return res, err
	}
	if len(active) != res.Runs {
		return res, fmt.Errorf("%d runs active after the resume, want %d", len(active), res.Runs)
	}
	return res, nil
}

// bareRead reads and decodes the runs at keys with one pipeline of GETs.
// Its replies, tens of megabytes, are read under one deadline: the test
// client's second (and go-redis's default 3 s) is too short for them on
// a busy machine, so this client waits as long as the benchmark does.
func (e *bench) bareRead(ctx context.Context, keys []string) (time.Duration, error) {
	rdb := redis.NewClient(&redis.Options{Addr: e.redis.Addr(), ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return 0, fmt.Errorf("bare read: %w", err)
	}
	began := time.Now()
	pipe := rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("bare read: %w", err)
	}
	for _, c := range cmds {
		var r flows.Run
		if err := json.Unmarshal([]byte(c.Val()), &r); err != nil {
			return 0, fmt.Errorf("bare read: %w", err)
		}
	}
	return time.Since(began), nil
}

// startedRun is a run as Start leaves it: classified, about to inspect,
// nothing posted yet.
func startedRun(id string, key flows.Key, ts flows.TokenSet, at time.Time) *flows.Run {
	return &flows.Run{
		ID: id, Key: key, Mode: flows.ModeRotate,
		APIUserName: ts.User.Name, ApplicationName: ts.Application.Name,
		Tokens: ts.Tokens, LastSyncedAt: ts.LastSyncedAt,
		Thread: flows.Thread{Channel: opsChannel}, Origin: flows.Origin{Kind: "command"},
		StartedBy: alice, CreatedAt: at, UpdatedAt: at,
		Phase: flows.PhaseRunning, Step: flows.StepInspect,
		Steps: []flows.StepState{
			{Step: flows.StepClassify, Status: flows.StepOK, StartedAt: at, EndedAt: at, Note: "API user " + ts.User.Name},
			{Step: flows.StepInspect, Status: flows.StepRunning, StartedAt: at},
			{Step: flows.StepIssue, Status: flows.StepPending},
			{Step: flows.StepSync, Status: flows.StepPending},
			{Step: flows.StepVerify, Status: flows.StepPending},
			{Step: flows.StepRevoke, Status: flows.StepPending},
		},
	}
}

// parkedRun is a run as the engine leaves it at its sync gate: inspected,
// a token issued, the question asked, every message in Slack.
func parkedRun(id string, i int, at time.Time) *flows.Run {
	name := fmt.Sprintf("Parked %05d", i)
	app := applications[i%len(applications)]
	key := flows.Key{Environment: flows.Production, APIUser: fmt.Sprintf("parked-%05d@alphagov.co.uk", i), Application: flows.Parameterize(app)}
	secret := flows.Parameterize("signon-token-" + name + "-" + app)
	old := flows.Token{ID: int64(2*i + 1), CreatedAt: at.AddDate(-2, 0, 5), ExpiresAt: at.AddDate(0, 0, 5), Fingerprint: token.FingerprintOf(fmt.Sprint("old", i))}
	nt := flows.Token{ID: int64(2*i + 2), CreatedAt: at, ExpiresAt: at.AddDate(2, 0, 0), Fingerprint: token.FingerprintOf(fmt.Sprint("new", i))}
	ts := func(n int) string { return fmt.Sprintf("%d.%06d", at.Unix(), (i*4+n)%1_000_000) }
	gate := &flows.Gate{ID: fmt.Sprintf("g%07d", i), Kind: flows.GateSync, OpenedAt: at, ExpiresAt: at.Add(4 * time.Hour),
		Actions: []flows.Action{flows.ActionApprove, flows.ActionCancel, flows.ActionRollback}, Prompt: "Run the sync job now?"}
	return &flows.Run{
		ID: id, Key: key, Mode: flows.ModeRotate,
		APIUserName: name, ApplicationName: app, SecretName: secret,
		Thread: flows.Thread{Channel: opsChannel, TS: ts(0)}, Origin: flows.Origin{Kind: "command"},
		StartedBy: alice, CreatedAt: at, UpdatedAt: at,
		Phase: flows.PhaseWaiting, Step: flows.StepSync, Gate: gate,
		Steps: []flows.StepState{
			{Step: flows.StepClassify, Status: flows.StepOK, StartedAt: at, EndedAt: at, Note: "API user " + name},
			{Step: flows.StepInspect, Status: flows.StepOK, StartedAt: at, EndedAt: at, Note: "1 consumer"},
			{Step: flows.StepIssue, Status: flows.StepOK, StartedAt: at, EndedAt: at, Note: fmt.Sprintf("token #%d", nt.ID)},
			{Step: flows.StepSync, Status: flows.StepWaiting, StartedAt: at, Note: "waiting for confirmation"},
			{Step: flows.StepVerify, Status: flows.StepPending},
			{Step: flows.StepRevoke, Status: flows.StepPending},
		},
		Tokens:       []flows.Token{old},
		LastSyncedAt: at.Add(-time.Hour),
		Consumers:    []flows.Consumer{{Kind: "Deployment", Name: flows.Parameterize(name), Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"}},
		OldTokens:    []flows.Token{old},
		NewToken:     &nt,
		Initiator:    flows.Initiator{Email: "alice@digital.cabinet-office.gov.uk"},
		Secret:       flows.SecretState{Exists: true, Fingerprint: old.Fingerprint, UpdatedAt: at.AddDate(0, 0, -1)},
		Intents:      []flows.Intent{{Effect: flows.EffectIssue, At: at, Done: true, DoneAt: at, Result: fmt.Sprint(nt.ID)}},
		Posts: []flows.Post{
			{ID: "00-inspect", Step: flows.StepInspect, At: at, Title: "Inspected " + name + " → " + app + " (production)",
				Lines: []string{"Last used by " + app + ": 1 hour ago.", "Unrevoked: token #" + fmt.Sprint(old.ID) + ", expires in 5 days.",
					"Secret `" + secret + "` is read by deploy/" + flows.Parameterize(name) + " (container app, `PUBLISHING_API_BEARER_TOKEN`)."}},
			{ID: "01-issue", Step: flows.StepIssue, At: at, Title: "Issued a new token for " + name + " → " + app + " (production)", Outcome: "ok",
				Lines: []string{fmt.Sprintf("New token #%d, expires in 2 years.", nt.ID), "Signon records the change as made by alice@digital.cabinet-office.gov.uk."}},
			{ID: "02-sync", Step: flows.StepSync, At: at, Title: "Run the token sync job in production?", Gate: gate.ID,
				Lines: []string{"This creates a Job from CronJob `signon-sync-token-secrets-to-k8s` in namespace `apps` (production), as Argo CD's \"Create job\" does.",
					"It writes the newest token of every API user into its Secret; this one's is `" + secret + "`."}},
		},
		Receipts: map[string]flows.Receipt{
			flows.StatusPostID: {TS: ts(0), Digest: "5f1d7a8e0b6c3d24"},
			"00-inspect":       {TS: ts(1), Digest: "9a0c1e2f3b4d5a6c"},
			"01-issue":         {TS: ts(1), Digest: "0b1c2d3e4f5a6b7c"},
			"02-sync":          {TS: ts(2), Digest: "1c2d3e4f5a6b7c8d"},
		},
	}
}
