package flows_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

// TestRealIdleConsumersPass: a consumer Deployment scaled to zero and a
// CronJob between runs hold no token, so verification passes them and
// says why, on the real apiserver. (The pod check once demanded a ready
// pod of the idle Deployment and paused every rotation of its token.)
func TestRealIdleConsumersPass(t *testing.T) {
	w := newShareWorld(t, 1, flows.SystemClock{})
	kubetest.StartReloader(t, w.cp.Config, w.ns)
	cj := kubetest.SyncCronJob(w.ns)
	cj.Name = "share-user-0-report"
	ctr := &cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	ctr.Name, ctr.Env = "report", kubetest.ConsumerDeployment(w.ns, "x", variable, w.secrets[0]).Spec.Template.Spec.Containers[0].Env
	if _, err := w.admin.BatchV1().CronJobs(w.ns).Create(w.ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eng := w.replica("replica-1", nil)
	run := w.start(eng, 0)
	if len(run.Consumers) != 2 {
		t.Fatalf("consumers %+v, want the idle Deployment and the CronJob", run.Consumers)
	}
	w.approve(eng, run)
	w.wait(eng, run.ID, "the run to rely on a Job", relies)
	w.play()
	run = w.wait(eng, run.ID, "the run to stop, its thread up to date", func(r *flows.Run) bool {
		for _, p := range r.Posts {
			if _, ok := r.Receipts[p.ID]; !ok {
				return false
			}
		}
		return r.Phase != flows.PhaseRunning
	})
	thread := w.notifier.Transcript(run.ID)
	if run.Gate == nil || run.Gate.Kind != flows.GateRevoke {
		t.Fatalf("the run is %s at %s, want it at the revoke gate:\n%s", run.Phase, run.Step, thread)
	}
	if len(run.Checks) != 0 {
		t.Errorf("pod checks %+v, want none: no pod runs", run.Checks)
	}
	for _, want := range []string{"deploy/share-user-0 has 0 replicas: nothing to check", "cronjob/share-user-0-report: nothing to check between runs; its next Job starts with whatever the Secret holds"} {
		if !strings.Contains(thread, want) {
			t.Errorf("the thread does not say %q:\n%s", want, thread)
		}
	}
}
