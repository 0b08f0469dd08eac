package flows_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alphagov/signon-token-bot/flows"
)

// TestRealRollbackNamesWhatItBreaksAndChecksItsConsumers: on the real
// control plane, with Reloader, content-tagger rolls to the new token and
// draft-content-tagger's new pod never becomes ready. The Roll back
// button's explanation names content-tagger, the one consumer a revoke
// breaks. After the rollback, content-tagger's pods on the old token do
// not become ready either: the run does not end as if rolled back but
// stops, saying so. Once they are ready, Retry proves both consumers are
// on the old token in their pods, and the thread says how long
// content-tagger held the revoked token.
func TestRealRollbackNamesWhatItBreaksAndChecksItsConsumers(t *testing.T) {
	w := newRealWorld(t, true)
	app := func(names ...string) func(*corev1.Pod) bool {
		return func(p *corev1.Pod) bool { return slices.Contains(names, p.Labels["app"]) }
	}
	w.kubelet.SetUnready(app("draft-content-tagger"))
	run := w.start()
	played := w.playSync("")
	run = w.act(run, flows.ActionApprove, alice)
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	run = w.wait(run.ID, "the pause at verify", atGate(flows.GateRecover))
	w.paused(run, flows.StepVerify, "draft-content-tagger")
	rollbackLine := lineWith(run.Posts[len(run.Posts)-1].Lines, "*Roll back*")
	if !strings.Contains(rollbackLine, "deploy/content-tagger already holds the new token") || strings.Contains(rollbackLine, "draft-content-tagger") {
		t.Errorf("the Roll back line does not name exactly the consumer on the new token: %q", rollbackLine)
	}

	// From now on no new pod of either consumer becomes ready: the pods
	// that would bring content-tagger back to the old token hang.
	w.kubelet.SetUnready(app("draft-content-tagger", "content-tagger"))
	newID := run.NewToken.ID
	clicked := time.Now()
	run = w.act(run, flows.ActionRollback, bob)
	w.waitRevoked(newID)
	played = w.playSync("")
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	run = w.wait(run.ID, "the pause at rollback", atGate(flows.GateRecover))
	if run.Phase != flows.PhasePaused || run.Step != flows.StepRollback {
		t.Fatalf("run is %s at %s, want paused at rollback:\n%s", run.Phase, run.Step, w.notifier.Transcript(run.ID))
	}
	if !strings.Contains(run.Reason, "deploy/content-tagger did not roll back to the old token") {
		t.Errorf("the pause says %q, want it to name content-tagger as not back", run.Reason)
	}
	if !slices.Equal(run.Gate.Actions, []flows.Action{flows.ActionRetry, flows.ActionCancel}) {
		t.Errorf("the pause offers %v, want retry and cancel", run.Gate.Actions)
	}
	if !w.revoked(newID) || w.revoked(w.old.ID) {
		t.Fatal("want the new token revoked and the old one valid")
	}

	w.kubelet.SetUnready(app("draft-content-tagger"))
	run = w.act(run, flows.ActionRetry, bob)
	run = w.wait(run.ID, "the end", ended)
	took := time.Since(clicked)
	if run.Phase != flows.PhaseRolledBack {
		t.Fatalf("the run ended %s (%s), want rolled back:\n%s", run.Phase, run.Reason, w.notifier.Transcript(run.ID))
	}
	last := run.Posts[len(run.Posts)-1].Lines
	for _, dep := range []string{"content-tagger", "draft-content-tagger"} {
		if lineWith(last, "(deploy/"+dep+"): `"+variable+"` holds the old token #") == "" {
			t.Errorf("the rollback does not show deploy/%s's pod on the old token: %v", dep, last)
		}
	}
	held := lineWith(last, "deploy/content-tagger held the revoked new token for ")
	m := regexp.MustCompile(`for (\d+)s:`).FindStringSubmatch(held)
	if m == nil {
		t.Fatalf("the rollback does not say how long content-tagger held a revoked token: %v", last)
	}
	if d, _ := time.ParseDuration(m[1] + "s"); d < realVerify || d > took {
		t.Errorf("content-tagger held the revoked token for %s; want at least the failed wait (%s) and at most the rollback's %s", d, realVerify, took)
	}
	if lineWith(last, "draft-content-tagger held") != "" {
		t.Errorf("draft-content-tagger never held the new token, but the thread says it did: %v", last)
	}
	noPlaintext(t, &world{signon: w.signon}, w.notifier.Transcript(run.ID))
}

// waitRevoked waits for the run to revoke token id in Signon, so that the
// sync played after it writes the old token.
func (w *realWorld) waitRevoked(id int64) {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !w.revoked(id) {
		if time.Now().After(deadline) {
			w.t.Fatalf("token %d not revoked within a minute", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lineWith(lines []string, part string) string {
	for _, l := range lines {
		if strings.Contains(l, part) {
			return l
		}
	}
	return ""
}
