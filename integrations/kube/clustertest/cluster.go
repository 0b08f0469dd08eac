// Package clustertest is an in-memory stand-in for one environment's
// Kubernetes cluster, as the flows see it: the sync CronJob, the token
// Secrets, Stakater Reloader and the consuming pods. The flow tests, the
// demo and the benchmarks use it; the real client is tested against a real
// apiserver instead.
//
// Its zero value is an empty cluster whose sync job reads nothing; set
// Tokens to the Signon double so that the sync writes what Signon holds.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// TokenSource is what the sync job reads: the newest unrevoked token of an
// API user (by name) for an application (by name).
type TokenSource interface {
	NewestUnrevoked(apiUserName, applicationName string) (token.Secret, bool)
}

// Cluster is the stand-in. Fault hooks are plain fields; set them before
// the call they should affect.
type Cluster struct {
	Tokens TokenSource
	Clock  flows.Clock
	// CronJob and Namespace name the sync CronJob; GOV.UK's by default.
	CronJob   string
	Namespace string

	// Err, when set, is returned by every call: an unreachable apiserver.
	Err error
	// FailSyncs makes the next n sync Jobs fail.
	FailSyncs int
	// FailLog, when set, is a failed sync's log tail and events, as the
	// real client reports them once it has redacted them: a test puts
	// hostile text here.
	FailLog []string
	// NoReloader: Deployments do not roll when their Secret changes.
	NoReloader bool
	// Stuck names Deployments whose pods keep the old token even after
	// they roll (a consumer that caches it).
	Stuck map[string]bool
	// LiveChecks names the applications with a smoke command; a false
	// value makes it fail.
	LiveChecks map[string]bool
	// SyncTime is how long a sync Job runs, in real time. At 0 a Job
	// ends when it is first waited on. Either way it writes the tokens
	// Signon held when it started, as the real task reads them early on.
	SyncTime time.Duration

	mu        sync.Mutex
	secrets   map[string]*secret
	consumers []consumer
	pods      map[string]*pod // by Deployment
	jobs      map[string]*job
	calls     map[string]int
	// restartedAt is each Deployment's restartedAt annotation: a restart
	// with the value it already has changes nothing, as in a real cluster.
	restartedAt map[string]time.Time
	restarts    map[string]int
	running     int
	maxRunning  int
	// seq orders writes, so that "rolled after the Secret changed" does
	// not depend on a test clock that stands still.
	seq int
}

type secret struct {
	user, app string
	fp        token.Fingerprint
	updatedAt time.Time
	seq       int // when it was written, in the cluster's own order
}

type pod struct {
	name      string
	seq       int
	createdAt time.Time
	gen       int
	env       map[string]token.Fingerprint // variable -> fingerprint
}

type job struct {
	name, runID string
	createdAt   time.Time
	// read is what the Job read from Signon when it started: a
	// fingerprint per Secret.
	read   map[string]token.Fingerprint
	result *flows.SyncResult
	done   chan struct{}
}

func (c *Cluster) init() {
	if c.secrets == nil {
		c.secrets = map[string]*secret{}
		c.pods = map[string]*pod{}
		c.jobs = map[string]*job{}
		c.calls = map[string]int{}
		c.restartedAt = map[string]time.Time{}
		c.restarts = map[string]int{}
	}
	if c.Clock == nil {
		c.Clock = flows.SystemClock{}
	}
	if c.CronJob == "" {
		c.CronJob = "signon-sync-token-secrets-to-k8s"
	}
	if c.Namespace == "" {
		c.Namespace = "apps"
	}
}

// AddSecret makes the sync job manage the Secret of an API user and
// application (by their Signon names) and writes it now, as last night's
// sync would have.
func (c *Cluster) AddSecret(apiUserName, applicationName string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	name := c.SecretName(apiUserName, applicationName)
	s := &secret{user: apiUserName, app: applicationName}
	c.secrets[name] = s
	c.refresh(s)
	return name
}

// AddDeployment adds a Deployment whose container reads the Secret into
// variable, with one ready pod holding the Secret's current value.
func (c *Cluster) AddDeployment(name, container, variable, secretName string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.consumers = append(c.consumers, consumer{Consumer: flows.Consumer{Kind: "Deployment", Name: name, Container: container, Variable: variable, Via: "env"}, secret: secretName})
	c.roll(name)
}

// AddCronJob adds a CronJob consumer of the Secret.
func (c *Cluster) AddCronJob(name, container, variable, secretName string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.consumers = append(c.consumers, consumer{Consumer: flows.Consumer{Kind: "CronJob", Name: name, Container: container, Variable: variable, Via: "env"}, secret: secretName})
}

// Calls counts the calls of a method ("StartSync", "RestartDeployment"...).
func (c *Cluster) Calls(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.calls[method]
}

// JobsCreated counts the sync Jobs the bot created (not the schedule's).
func (c *Cluster) JobsCreated() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	n := 0
	for _, j := range c.jobs {
		if j.runID != "" {
			n++
		}
	}
	return n
}

// MaxRunning is the most sync Jobs that ran at once.
func (c *Cluster) MaxRunning() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxRunning
}

// StartScheduled starts a Job as the CronJob's schedule does, and returns
// its name. It reads Signon now and ends as any other Job does.
func (c *Cluster) StartScheduled() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.newJob("").name
}

// PodFingerprint is what a Deployment's pod holds in a variable.
func (c *Cluster) PodFingerprint(deployment, variable string) token.Fingerprint {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	if p, ok := c.pods[deployment]; ok {
		return p.env[variable]
	}
	return ""
}

func (c *Cluster) enter(method string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.calls[method]++
	if c.Err != nil {
		return fmt.Errorf("%s: %w", method, c.Err)
	}
	return nil
}

// SecretName follows the sync task: parameterize("signon-token-" + user +
// "-" + application).
func (c *Cluster) SecretName(apiUserName, application string) string {
	return flows.Parameterize("signon-token-" + apiUserName + "-" + application)
}

// Location names the sync CronJob's namespace and name.
func (c *Cluster) Location() (namespace, cronJob string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.Namespace, c.CronJob
}

func (c *Cluster) Secret(ctx context.Context, name string) (flows.SecretState, error) {
	if err := c.enter("Secret"); err != nil {
		return flows.SecretState{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.secrets[name]
	if !ok || s.fp == "" {
		return flows.SecretState{Name: name}, nil
	}
	return flows.SecretState{Name: name, Exists: true, Fingerprint: s.fp, UpdatedAt: s.updatedAt}, nil
}

func (c *Cluster) Consumers(ctx context.Context, secretName string) ([]flows.Consumer, error) {
	if err := c.enter("Consumers"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []flows.Consumer
	for _, r := range c.consumers {
		if r.secret == secretName {
			out = append(out, r.Consumer)
		}
	}
	return out, nil
}

// SecretReaders is every Secret's consumers, from one look at the
// cluster, as the real client lists them for the daily sweep.
func (c *Cluster) SecretReaders(ctx context.Context) (map[string][]flows.Consumer, error) {
	if err := c.enter("SecretReaders"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]flows.Consumer{}
	for _, r := range c.consumers {
		out[r.secret] = append(out[r.secret], r.Consumer)
	}
	return out, nil
}

// StartSync follows the real client: the run's own Job, else one that
// started at or after after (to the second) and has not failed, else one
// still running from before (Earlier), else a new one.
func (c *Cluster) StartSync(ctx context.Context, runID string, after time.Time) (flows.SyncJob, error) {
	if err := c.enter("StartSync"); err != nil {
		return flows.SyncJob{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var serves, earlier *job
	for _, j := range c.jobs {
		if runID != "" && j.runID == runID {
			return j.syncJob(false, false), nil
		}
		if j.result != nil && !j.result.Succeeded {
			continue
		}
		switch {
		case !j.createdAt.Truncate(time.Second).Before(after.Truncate(time.Second)):
			if serves == nil || j.before(serves) {
				serves = j
			}
		case j.result == nil:
			earlier = j
		}
	}
	if serves != nil {
		return serves.syncJob(true, false), nil
	}
	if earlier != nil {
		return earlier.syncJob(true, true), nil
	}
	return c.newJob(runID).syncJob(false, false), nil
}

// before prefers a Job that has written its Secrets, then the older.
func (j *job) before(o *job) bool {
	if (j.result != nil) != (o.result != nil) {
		return j.result != nil
	}
	return j.name < o.name
}

func (j *job) syncJob(adopted, earlier bool) flows.SyncJob {
	return flows.SyncJob{Name: j.name, Adopted: adopted, Earlier: earlier, CreatedAt: j.createdAt, StartedAt: j.createdAt}
}

// newJob starts a Job, named as Argo CD names one, that reads Signon now.
func (c *Cluster) newJob(runID string) *job {
	now := c.Clock.Now()
	base := c.CronJob + "-" + now.UTC().Format("0601021504")
	name := base
	for i := 2; c.jobs[name] != nil; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	j := &job{name: name, runID: runID, createdAt: now, read: map[string]token.Fingerprint{}, done: make(chan struct{})}
	if c.Tokens != nil {
		for n, s := range c.secrets {
			if sec, ok := c.Tokens.NewestUnrevoked(s.user, s.app); ok {
				j.read[n] = sec.Fingerprint()
			}
		}
	}
	c.jobs[name] = j
	c.running++
	c.maxRunning = max(c.maxRunning, c.running)
	if c.SyncTime > 0 {
		time.AfterFunc(c.SyncTime, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.finish(j)
		})
	}
	return j
}

// finish ends a Job: it fails if FailSyncs says so, else writes what it
// read and Reloader rolls the consumers of each Secret it changed.
func (c *Cluster) finish(j *job) {
	if j.result != nil {
		return
	}
	now := c.Clock.Now()
	res := flows.SyncResult{Job: j.name, StartedAt: j.createdAt, CompletedAt: now}
	if c.FailSyncs > 0 {
		c.FailSyncs--
		res.LogTail = []string{"rake aborted!", "ActiveRecord::ConnectionNotEstablished: could not connect to server"}
		res.Events = []string{"BackoffLimitExceeded: Job has reached the specified backoff limit"}
		if c.FailLog != nil {
			res.LogTail, res.Events = c.FailLog, c.FailLog
		}
	} else {
		res.Succeeded = true
		for name, s := range c.secrets {
			if fp, ok := j.read[name]; ok && fp != s.fp {
				c.seq++
				s.fp, s.updatedAt, s.seq = fp, now, c.seq
				c.reload(name)
			}
		}
	}
	j.result = &res
	c.running--
	close(j.done)
}

func (c *Cluster) WaitSync(ctx context.Context, jobName, secretName string, progress func(flows.SyncProgress)) (flows.SyncResult, error) {
	if err := c.enter("WaitSync"); err != nil {
		return flows.SyncResult{}, err
	}
	c.mu.Lock()
	j, ok := c.jobs[jobName]
	if ok && c.SyncTime == 0 {
		c.finish(j)
	}
	c.mu.Unlock()
	if !ok {
		return flows.SyncResult{}, fmt.Errorf("job %s: %w", jobName, flows.ErrNotFound)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		err := ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = flows.ErrTimeout
		}
		return flows.SyncResult{Job: jobName}, fmt.Errorf("wait for job %s: %w", jobName, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	res := *j.result
	if _, ok := c.secrets[secretName]; ok && res.Succeeded {
		res.SecretLines = []string{fmt.Sprintf("Updated secret %s (namespace %s)", secretName, c.Namespace)}
	}
	if progress != nil {
		progress(flows.SyncProgress{Job: jobName, Phase: map[bool]string{true: "succeeded", false: "failed"}[res.Succeeded], At: res.CompletedAt})
	}
	return res, nil
}

func (c *Cluster) WaitRollout(ctx context.Context, deployment string, since time.Time, startTimeout time.Duration) (flows.Rollout, error) {
	if err := c.enter("WaitRollout"); err != nil {
		return flows.Rollout{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pods[deployment]
	if !ok {
		return flows.Rollout{}, fmt.Errorf("deployment %s: %w", deployment, flows.ErrNotFound)
	}
	stale := false
	for _, r := range c.consumers {
		if r.Kind == "Deployment" && r.Name == deployment {
			if s, ok := c.secrets[r.secret]; ok && s.seq > p.seq {
				stale = true
			}
		}
	}
	if stale {
		return flows.Rollout{Deployment: deployment, Replicas: 1, Ready: 1}, fmt.Errorf("deployment %s after %s: %w", deployment, startTimeout, flows.ErrRolloutNotStarted)
	}
	return flows.Rollout{Deployment: deployment, Started: true, Complete: true, Replicas: 1, Ready: 1}, nil
}

func (c *Cluster) RestartDeployment(ctx context.Context, deployment string, at time.Time) error {
	if err := c.enter("RestartDeployment"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[deployment]; !ok {
		return fmt.Errorf("deployment %s: %w", deployment, flows.ErrNotFound)
	}
	if prev, ok := c.restartedAt[deployment]; ok && prev.Equal(at.Truncate(time.Second)) {
		return nil
	}
	c.restartedAt[deployment] = at.Truncate(time.Second)
	c.restarts[deployment]++
	c.roll(deployment)
	return nil
}

// Restarts counts the restarts that rolled a Deployment; a repeated
// restart with the same timestamp does not.
func (c *Cluster) Restarts(deployment string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.restarts[deployment]
}

func (c *Cluster) CheckPods(ctx context.Context, con flows.Consumer, want token.Fingerprint) ([]flows.PodCheck, error) {
	if err := c.enter("CheckPods"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pods[con.Name]
	if !ok {
		return nil, fmt.Errorf("deployment %s: %w", con.Name, flows.ErrNotFound)
	}
	fp := p.env[con.Variable]
	return []flows.PodCheck{{Pod: p.name, Container: con.Container, Variable: con.Variable, Fingerprint: fp, Match: fp == want}}, nil
}

func (c *Cluster) LiveCheck(ctx context.Context, con flows.Consumer, application string) (flows.LiveCheck, error) {
	if err := c.enter("LiveCheck"); err != nil {
		return flows.LiveCheck{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pass, ok := c.LiveChecks[application]
	if !ok {
		return flows.LiveCheck{}, nil
	}
	p := c.pods[con.Name]
	lc := flows.LiveCheck{Configured: true, Passed: pass, Command: "smoke " + application}
	if p != nil {
		lc.Pod = p.name
	}
	if !pass {
		lc.Output = []string{"GdsApi::HTTPUnauthorized: 401 Unauthorized"}
	}
	return lc, nil
}

// consumer is a workload container and the Secret it reads.
type consumer struct {
	flows.Consumer
	secret string
}

// refresh writes a Secret from Signon as the sync task does; it reports
// whether the value changed.
func (c *Cluster) refresh(s *secret) bool {
	if c.Tokens == nil {
		return false
	}
	sec, ok := c.Tokens.NewestUnrevoked(s.user, s.app)
	if !ok {
		return false
	}
	fp := sec.Fingerprint()
	if fp == s.fp {
		return false
	}
	c.seq++
	s.fp, s.updatedAt, s.seq = fp, c.Clock.Now(), c.seq
	return true
}

// reload plays Stakater Reloader: every Deployment reading the Secret rolls.
func (c *Cluster) reload(secretName string) {
	if c.NoReloader {
		return
	}
	for _, r := range c.consumers {
		if r.secret == secretName && r.Kind == "Deployment" {
			c.roll(r.Name)
		}
	}
}

// roll replaces a Deployment's pod with one that read the Secrets now.
func (c *Cluster) roll(deployment string) {
	old := c.pods[deployment]
	gen := 1
	if old != nil {
		gen = old.gen + 1
	}
	c.seq++
	p := &pod{name: fmt.Sprintf("%s-%d-%s", deployment, gen, "x7k2p"), seq: c.seq, createdAt: c.Clock.Now(), gen: gen, env: map[string]token.Fingerprint{}}
	for _, r := range c.consumers {
		if r.Kind != "Deployment" || r.Name != deployment {
			continue
		}
		if c.Stuck[deployment] && old != nil {
			p.env[r.Variable] = old.env[r.Variable]
			continue
		}
		if s, ok := c.secrets[r.secret]; ok {
			p.env[r.Variable] = s.fp
		}
	}
	c.pods[deployment] = p
}

var _ flows.Cluster = (*Cluster)(nil)
