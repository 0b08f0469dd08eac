package flows_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

// When verification fails on a real cluster, the stopped post says which
// token each consumer holds, the cause the cluster shows, the old token's
// expiry as the deadline and what each button will do, before any click.

func TestRealVerifyFailureCrashLoopReport(t *testing.T) {
	w := newRealWorld(t, true)
	// The draft app's new pods crash as they start; its old pod stays.
	w.kubelet.SetFailing(func(p *corev1.Pod) string {
		if _, reloaded := p.Annotations[kubetest.ReloaderLastReloadedFrom]; reloaded && p.Labels["app"] == "draft-content-tagger" {
			return kubetest.CrashLoopBackOff
		}
		return ""
	})
	run := w.syncThenStop()
	w.paused(run, flows.StepVerify, "draft-content-tagger")
	text := strings.Join(run.Posts[len(run.Posts)-1].Lines, "\n")
	newFP, oldFP := "`"+run.NewToken.Fingerprint.Short()+"`", "`"+w.old.Fingerprint.Short()+"`"
	wantLines(t, text,
		"Which token each consumer holds (new "+newFP+fmt.Sprintf(", old #%d ", w.old.ID)+oldFP+"):",
		"• Secret `"+w.secret+"`: *new* "+newFP,
		"• deploy/content-tagger (app, `"+variable+"`), pod content-tagger-",
		": *new* "+newFP,
		"• deploy/draft-content-tagger (app, `"+variable+"`), pod draft-content-tagger-",
		": *old* "+oldFP,
		"Likely cause:",
		"of deploy/draft-content-tagger never became ready: container app is in CrashLoopBackOff (restarted 4 times, last exit code 1).",
		"The rollout of deploy/draft-content-tagger is still in progress: 1 of 1 pods updated, 0 ready.",
		fmt.Sprintf("Deadline: the old token #%d expires", w.old.ID),
		"*Retry* checks every consumer again; it changes nothing.",
		fmt.Sprintf("*Roll back* revokes the new token #%d", run.NewToken.ID),
		"deploy/content-tagger already holds the new token",
		"*Cancel run* stops here and changes nothing more",
	)
	if strings.Contains(text, "deploy/content-tagger rolled out") || strings.Contains(text, "of deploy/content-tagger never") {
		t.Errorf("a cause names the consumer that is fine:\n%s", text)
	}
	noPlaintext(t, &world{signon: w.signon}, w.notifier.Transcript(run.ID))
}

func TestRealVerifyFailureNoReloaderAnnotation(t *testing.T) {
	w := newRealWorld(t, true)
	// Someone dropped Reloader's annotation from the draft app.
	patch := []byte(`{"metadata":{"annotations":{"` + kubetest.ReloaderAuto + `":null}}}`)
	if _, err := w.admin.AppsV1().Deployments(w.ns).Patch(w.ctx, "draft-content-tagger", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	run := w.syncThenStop()
	w.paused(run, flows.StepVerify, "Not rolled out since the Secret changed: draft-content-tagger")
	text := strings.Join(run.Posts[len(run.Posts)-1].Lines, "\n")
	wantLines(t, text,
		": *old* `"+w.old.Fingerprint.Short()+"`",
		"Reloader did not restart deploy/draft-content-tagger: it has no Reloader annotation",
		"*Restart deployment* restarts deploy/draft-content-tagger",
	)
}

// syncThenStop starts a rotation, lets Alice run the sync, and waits
// for the run to stop.
func (w *realWorld) syncThenStop() *flows.Run {
	w.t.Helper()
	run := w.start()
	played := w.playSync("")
	run = w.act(run, flows.ActionApprove, alice)
	if err := <-played; err != nil {
		w.t.Fatal(err)
	}
	return w.wait(run.ID, "the pause", atGate(flows.GateRecover))
}

func wantLines(t *testing.T, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("the stopped post does not say %q:\n%s", p, text)
		}
	}
}
