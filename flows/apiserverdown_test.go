package flows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// unreachable is the cluster behind an apiserver that stops answering
// after its first `after` calls, as a control plane that goes away in the
// middle of a run does, and answers again once restored.
type unreachable struct {
	flows.Cluster
	after    int64
	calls    atomic.Int64
	refused  atomic.Int64
	restored atomic.Bool
}

func (u *unreachable) call(method string) error {
	if u.calls.Add(1) <= u.after || u.restored.Load() {
		return nil
	}
	u.refused.Add(1)
	return fmt.Errorf("%s: Get \"https://10.0.0.1:443/api\": dial tcp 10.0.0.1:443: connect: connection refused: %w", method, flows.ErrUnavailable)
}

func (u *unreachable) Secret(ctx context.Context, name string) (flows.SecretState, error) {
	if err := u.call("get secret"); err != nil {
		return flows.SecretState{}, err
	}
	return u.Cluster.Secret(ctx, name)
}

func (u *unreachable) Consumers(ctx context.Context, secret string) ([]flows.Consumer, error) {
	if err := u.call("list deployments"); err != nil {
		return nil, err
	}
	return u.Cluster.Consumers(ctx, secret)
}

func (u *unreachable) StartSync(ctx context.Context, runID string, at time.Time) (flows.SyncJob, error) {
	if err := u.call("create job"); err != nil {
		return flows.SyncJob{}, err
	}
	return u.Cluster.StartSync(ctx, runID, at)
}

func (u *unreachable) WaitSync(ctx context.Context, job, secret string, progress func(flows.SyncProgress)) (flows.SyncResult, error) {
	if err := u.call("watch job"); err != nil {
		return flows.SyncResult{}, err
	}
	return u.Cluster.WaitSync(ctx, job, secret, progress)
}

func (u *unreachable) WaitRollout(ctx context.Context, deployment string, since time.Time, startTimeout time.Duration) (flows.Rollout, error) {
	if err := u.call("watch deployment"); err != nil {
		return flows.Rollout{}, err
	}
	return u.Cluster.WaitRollout(ctx, deployment, since, startTimeout)
}

func (u *unreachable) RestartDeployment(ctx context.Context, deployment string, at time.Time) error {
	if err := u.call("patch deployment"); err != nil {
		return err
	}
	return u.Cluster.RestartDeployment(ctx, deployment, at)
}

func (u *unreachable) CheckPods(ctx context.Context, c flows.Consumer, want token.Fingerprint) ([]flows.PodCheck, error) {
	if err := u.call("exec in pod"); err != nil {
		return nil, err
	}
	return u.Cluster.CheckPods(ctx, c, want)
}

func (u *unreachable) LiveCheck(ctx context.Context, c flows.Consumer, application string) (flows.LiveCheck, error) {
	if err := u.call("exec in pod"); err != nil {
		return flows.LiveCheck{}, err
	}
	return u.Cluster.LiveCheck(ctx, c, application)
}

// outageRun plays one rotation whose apiserver stops answering after its
// first `after` calls. Wherever the outage strikes, the run must pause
// with a retry offered and the old token intact; once the apiserver is
// back, a retry must finish it. It returns the number of calls a run made.
func outageRun(t *testing.T, after int64) int64 {
	w := newWorld(t, setup{})
	w.cluster.LiveChecks = map[string]bool{appSlug: true}
	e := newEnv(t, w)
	g := &guard{Signon: w.signon, t: t, w: w}
	u := &unreachable{Cluster: w.cluster, after: after}
	eng, _ := e.engine("replica-1", func(p ports, _ func()) ports {
		p.signon, p.cluster = g, u
		return p
	})
	run := start(t, eng, flows.ModeRotate)
	pauses := 0
	for {
		run = waitFor(t, eng, run.ID, "the run to stop", func(r *flows.Run) bool { return r.Phase != flows.PhaseRunning })
		if run.Ended() {
			break
		}
		switch run.Gate.Kind {
		case flows.GateRecover:
			pauses++
			if pauses > 1 {
				t.Fatalf("outage after call %d: paused again after the apiserver came back: %s", after, run.Reason)
			}
			// The thread says what failed plainly and quotes the id the
			// log holds the address under.
			if !strings.Contains(run.Reason, "did not answer") && !strings.Contains(run.Reason, "timed out") || !strings.Contains(run.Reason, "(error e-") {
				t.Errorf("outage after call %d: the pause does not say why: %q", after, run.Reason)
			}
			if strings.Contains(run.Reason, "127.0.0.1") || strings.Contains(run.Reason, "connection refused") {
				t.Errorf("outage after call %d: the pause shows internals: %q", after, run.Reason)
			}
			if !slices.Contains(run.Gate.Actions, flows.ActionRetry) {
				t.Errorf("outage after call %d: paused at %s offering %v, not a retry", after, run.Step, run.Gate.Actions)
			}
			if w.token(t, w.old.ID).Revoked() {
				t.Fatalf("outage after call %d: the old token was revoked", after)
			}
			last := run.Posts[len(run.Posts)-1]
			if (run.Step == flows.StepSync || run.Step == flows.StepVerify) && !slices.Contains(last.Lines, "The old token is still valid and untouched.") {
				t.Errorf("outage after call %d: the pause at %s does not say the old token is untouched: %v", after, run.Step, last.Lines)
			}
			u.restored.Store(true)
			run = mustAct(t, eng, run, flows.ActionRetry, alice)
		case flows.GateSync:
			run = mustAct(t, eng, run, flows.ActionApprove, alice)
		case flows.GateRevoke:
			run = mustAct(t, eng, run, flows.ActionApprove, bob)
		default:
			t.Fatalf("outage after call %d: unexpected gate %s", after, run.Gate.Kind)
		}
	}
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone {
		t.Fatalf("outage after call %d: the run ended %s (%s)", after, run.Phase, run.Reason)
	}
	if (u.refused.Load() > 0) != (pauses == 1) {
		t.Errorf("outage after call %d: %d calls refused, %d pauses", after, u.refused.Load(), pauses)
	}
	if n := w.signon.TokenCount(userEmail, appName); n != 2 || !w.token(t, w.old.ID).Revoked() || w.token(t, run.NewToken.ID).Revoked() {
		t.Errorf("outage after call %d: %d tokens; want the old one revoked and one new one live", after, n)
	}
	if jobs := w.cluster.JobsCreated(); jobs != 1 {
		t.Errorf("outage after call %d: %d sync Jobs, want 1", after, jobs)
	}
	if g.early.Load() != 0 {
		t.Errorf("outage after call %d: %d early revokes", after, g.early.Load())
	}
	return u.calls.Load() - u.refused.Load()
}

// TestApiserverUnreachableAtEveryCall cuts the apiserver off after each
// of the calls a rotation makes to it in turn (inspect, sync, verify):
// every outage pauses the run with a retry and the old token intact, and
// the retry completes it with one new token and one sync Job.
func TestApiserverUnreachableAtEveryCall(t *testing.T) {
	total := outageRun(t, 1<<40)
	if total < 8 {
		t.Fatalf("a rotation made only %d cluster calls: the outage is not wired", total)
	}
	for n := range total {
		t.Run(fmt.Sprintf("after call %d of %d", n, total), func(t *testing.T) { outageRun(t, n) })
	}
	t.Logf("outage points: %d", total)
}
