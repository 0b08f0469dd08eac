package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// effects stands between the sandbox server and the doubles. After each
// change it makes (a token issued or revoked, a sync Job started or
// waited on, a Deployment restarted) and before the bot hears of it, it
// passes a kill point. It records the changes per run, and checks at
// every revoke that the working credential is not lost.
type effects struct {
	h       *harness
	signon  *signontest.Signon
	cluster *clustertest.Cluster

	mu sync.Mutex
	// before, when set, runs before a method of the doubles is called
	// (the outage phase stops Redis while the bot waits on a sync).
	before func(method string)
	// jobs are the sync Jobs started, by run id.
	jobs map[string]map[string]bool
	// shared marks the sync attempts ("<run>.<attempt>") that were handed
	// a Job another run or the schedule started; nextJobs counts, by run
	// id, the Jobs an attempt then started itself: after a shared Job
	// that ran from before its change (Earlier), or that started in the
	// same second as its token and missed it, as the flows intend.
	shared   map[string]bool
	nextJobs map[string]int
	// revoked counts the successful revokes of each token.
	revoked map[int64]int
	// early are revokes of an old token while a consumer's pod held
	// anything but the newest token, by API user.
	early map[string][]string
	// repeatRevokes are revokes Signon refused as done already.
	repeatRevokes int
	// runRevokes counts the successful revokes of each run.
	runRevokes map[string]int
}

func (e *effects) enter(method string) {
	e.mu.Lock()
	f := e.before
	e.mu.Unlock()
	if f != nil {
		f(method)
	}
}

func (e *effects) setBefore(f func(method string)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.before = f
}

// guardRevoke checks invariant 1 at the moment of a revoke: if the token
// is not the newest one, every consumer's pod must hold the newest.
func (e *effects) guardRevoke(req flows.RevokeRequest) {
	spec := e.h.spec(req.Email)
	if spec == nil {
		return
	}
	newest, ok := e.signon.NewestUnrevoked(spec.name, appName)
	if !ok || tokenID(e.signon, spec, newest.Fingerprint()) == req.TokenID {
		// A rollback revokes the new token; nothing newer is at stake.
		return
	}
	for _, dep := range spec.deployments {
		if got := e.cluster.PodFingerprint(dep, variable); got != newest.Fingerprint() {
			e.mu.Lock()
			e.early[spec.email] = append(e.early[spec.email], fmt.Sprintf("token #%d revoked while deploy/%s held %s, not the new %s", req.TokenID, dep, got, newest.Fingerprint()))
			e.mu.Unlock()
		}
	}
}

// errKilled answers a call the bot was killed during: no one reads it.
var errKilled = errors.New("the bot was killed before Signon acted")

// tokenID finds a token's id by its fingerprint.
func tokenID(s *signontest.Signon, spec *tokenSpec, fp token.Fingerprint) int64 {
	ts, err := s.Tokens(context.Background(), spec.email, appName)
	if err != nil {
		return 0
	}
	for _, t := range ts.Tokens {
		if t.Fingerprint == fp {
			return t.ID
		}
	}
	return 0
}

// earlyRevokes are the revokes of an API user's old token that came
// before every pod held the new one.
func (e *effects) earlyRevokes(email string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.early[email]
}

func (e *effects) jobsOf(runID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.jobs[runID])
}

// nextJobsOf counts the Jobs the run started after one it was handed.
func (e *effects) nextJobsOf(runID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nextJobs[runID]
}

func (e *effects) revokes(id int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.revoked[id]
}

// signonSide is the Signon the bot reaches through the sandbox.
type signonSide struct{ e *effects }

func (s signonSide) Reveal(ctx context.Context, req flows.RevealRequest) (flows.Revealed, error) {
	return s.e.signon.Reveal(ctx, req)
}

func (s signonSide) FindAPIUser(ctx context.Context, email string) (flows.APIUser, error) {
	return s.e.signon.FindAPIUser(ctx, email)
}

func (s signonSide) Tokens(ctx context.Context, email, application string) (flows.TokenSet, error) {
	return s.e.signon.Tokens(ctx, email, application)
}

func (s signonSide) Expiring(ctx context.Context, within time.Duration) ([]flows.ExpiringToken, error) {
	return s.e.signon.Expiring(ctx, within)
}

// Estate is the daily sweep's one Signon call, a kill point once Signon
// has answered.
func (s signonSide) Estate(ctx context.Context, within time.Duration) (flows.Estate, error) {
	s.e.enter("Estate")
	res, err := s.e.signon.Estate(ctx, within)
	if err == nil {
		s.e.h.killer.point("after Estate")
	}
	return res, err
}

func (s signonSide) Issue(ctx context.Context, req flows.IssueRequest) (flows.Issued, error) {
	s.e.enter("Issue")
	res, err := s.e.signon.Issue(ctx, req)
	if err == nil {
		s.e.h.killer.point("after Issue")
	}
	return res, err
}

func (s signonSide) Revoke(ctx context.Context, req flows.RevokeRequest) (flows.Revoked, error) {
	s.e.enter("Revoke")
	s.e.mu.Lock()
	second := s.e.runRevokes[req.RunID] > 0
	s.e.mu.Unlock()
	// A run revoking its second token has recorded its first: a kill
	// here falls between two revokes, before Signon does the second.
	if second && s.e.h.killer.point("before a second revoke") {
		return flows.Revoked{}, fmt.Errorf("revoke token %d: %w", req.TokenID, errKilled)
	}
	s.e.guardRevoke(req)
	res, err := s.e.signon.Revoke(ctx, req)
	s.e.mu.Lock()
	switch {
	case err == nil:
		s.e.revoked[req.TokenID]++
		s.e.runRevokes[req.RunID]++
	case errors.Is(err, flows.ErrAlreadyRevoked):
		s.e.repeatRevokes++
	}
	s.e.mu.Unlock()
	if err == nil {
		s.e.h.killer.point("after Revoke")
	}
	return res, err
}

// clusterSide is the cluster the bot reaches through the sandbox.
type clusterSide struct{ e *effects }

func (c clusterSide) SecretReaders(ctx context.Context) (map[string][]flows.Consumer, error) {
	return c.e.cluster.SecretReaders(ctx)
}

func (c clusterSide) Location() (string, string) { return c.e.cluster.Location() }

func (c clusterSide) SecretName(user, application string) string {
	return c.e.cluster.SecretName(user, application)
}

func (c clusterSide) Secret(ctx context.Context, name string) (flows.SecretState, error) {
	return c.e.cluster.Secret(ctx, name)
}

func (c clusterSide) Consumers(ctx context.Context, secret string) ([]flows.Consumer, error) {
	return c.e.cluster.Consumers(ctx, secret)
}

func (c clusterSide) StartSync(ctx context.Context, runID string, at time.Time) (flows.SyncJob, error) {
	c.e.enter("StartSync")
	job, err := c.e.cluster.StartSync(ctx, runID, at)
	if err != nil {
		return job, err
	}
	// The run id of an attempt is "<run>.<attempt>"; a rollback's resync
	// is "<run>.rollback". A Job adopted from another run (or a batch's
	// first member) is that run's, not a second one.
	run, _, _ := strings.Cut(runID, ".")
	c.e.mu.Lock()
	if job.Adopted {
		c.e.shared[runID] = true
	} else {
		if c.e.jobs[run] == nil {
			c.e.jobs[run] = map[string]bool{}
		}
		if !c.e.jobs[run][job.Name] && c.e.shared[runID] {
			c.e.nextJobs[run]++
		}
		c.e.jobs[run][job.Name] = true
	}
	c.e.mu.Unlock()
	c.e.h.killer.point("after StartSync")
	return job, nil
}

func (c clusterSide) WaitSync(ctx context.Context, job, secret string, progress func(flows.SyncProgress)) (flows.SyncResult, error) {
	c.e.enter("WaitSync")
	res, err := c.e.cluster.WaitSync(ctx, job, secret, progress)
	if err == nil {
		c.e.h.killer.point("after WaitSync")
	}
	return res, err
}

func (c clusterSide) WaitRollout(ctx context.Context, deployment string, since time.Time, startTimeout time.Duration) (flows.Rollout, error) {
	return c.e.cluster.WaitRollout(ctx, deployment, since, startTimeout)
}

func (c clusterSide) RestartDeployment(ctx context.Context, deployment string, at time.Time) error {
	c.e.enter("RestartDeployment")
	err := c.e.cluster.RestartDeployment(ctx, deployment, at)
	if err == nil {
		c.e.h.killer.point("after RestartDeployment")
	}
	return err
}

func (c clusterSide) CheckPods(ctx context.Context, con flows.Consumer, want token.Fingerprint) ([]flows.PodCheck, error) {
	return c.e.cluster.CheckPods(ctx, con, want)
}

func (c clusterSide) LiveCheck(ctx context.Context, con flows.Consumer, application string) (flows.LiveCheck, error) {
	return c.e.cluster.LiveCheck(ctx, con, application)
}

var (
	_ flows.Signon  = signonSide{}
	_ flows.Cluster = clusterSide{}
)
