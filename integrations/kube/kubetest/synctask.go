package kubetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// SyncRun is how one run of Signon's `rake kubernetes:sync_token_secrets`
// goes when PlaySync plays it.
type SyncRun struct {
	// Tokens maps Secret names to the bearer token the task writes there,
	// as the real task does: server-side apply, field manager "signon",
	// type Opaque, key bearer_token, no labels. It logs each name.
	Tokens map[string]token.Secret
	// Error, if set, makes the task abort after writing the Tokens: it
	// logs a rake-style error with this message and exits 1.
	Error string
}

// SyncFieldManager is the field manager the sync task applies Secrets as.
const SyncFieldManager = "signon"

// PlaySync waits for a pod of a Job of the CronJob cronJob to be running
// on this kubelet, plays the sync task in it as run says, and ends the pod
// (Succeeded, or Failed with exit code 1 when run.Error is set). The real
// Job controller then completes or fails the Job. It returns the pod's
// name. Call it in a goroutine while the code under test waits on the Job.
func (k *Kubelet) PlaySync(ctx context.Context, cronJob string, run SyncRun) (string, error) {
	pod, err := k.claimJobPod(ctx, cronJob)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(run.Tokens))
	for name := range run.Tokens {
		names = append(names, name)
	}
	sort.Strings(names)
	var logs []string
	for _, name := range names {
		secret := applycorev1.Secret(name, k.ns).
			WithType(corev1.SecretTypeOpaque).
			WithData(map[string][]byte{"bearer_token": []byte(run.Tokens[name].Reveal())})
		if _, err := k.cs.CoreV1().Secrets(k.ns).Apply(ctx, secret, metav1.ApplyOptions{FieldManager: SyncFieldManager, Force: true}); err != nil {
			return pod, fmt.Errorf("kubetest: sync task: apply secret %s: %w", name, err)
		}
		logs = append(logs, railsLog("info", name))
	}
	exit := int32(0)
	if run.Error != "" {
		exit = 1
		logs = append(logs,
			"rake aborted!",
			run.Error,
			"/app/lib/tasks/kubernetes.rake:14:in `block (3 levels) in <main>'",
			"Tasks: TOP => kubernetes:sync_token_secrets",
			"(See full trace by running task with --trace)",
		)
	}
	return pod, k.Finish(ctx, pod, exit, logs...)
}

// railsLog formats a line as GOV.UK's Rails apps log in JSON.
func railsLog(level, message string) string {
	b, _ := json.Marshal(map[string]string{
		"@timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"level":      level,
		"message":    message,
		"tags":       "",
	})
	return string(b)
}

// claimJobPod waits until a running, unclaimed pod belongs to a Job owned
// by cronJob, and claims it.
func (k *Kubelet) claimJobPod(ctx context.Context, cronJob string) (string, error) {
	owners := map[string]string{} // Job name: its CronJob
	for {
		k.mu.Lock()
		candidates := map[string]string{} // pod: job
		for name, rec := range k.pods {
			if rec.job != "" && !rec.done && !rec.claimed {
				candidates[name] = rec.job
			}
		}
		changed := k.changed
		k.mu.Unlock()
		for pod, job := range candidates {
			if _, ok := owners[job]; !ok {
				j, err := k.cs.BatchV1().Jobs(k.ns).Get(ctx, job, metav1.GetOptions{})
				if err != nil {
					return "", fmt.Errorf("kubetest: get job %s: %w", job, err)
				}
				if ref := metav1.GetControllerOf(j); ref != nil && ref.Kind == "CronJob" {
					owners[job] = ref.Name
				} else {
					owners[job] = ""
				}
			}
			if owners[job] != cronJob {
				continue
			}
			k.mu.Lock()
			rec, ok := k.pods[pod]
			claimed := ok && !rec.claimed && !rec.done
			if claimed {
				rec.claimed = true
			}
			k.mu.Unlock()
			if claimed {
				return pod, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("kubetest: no pod of a job of cronjob %s started: %w", cronJob, ctx.Err())
		case <-changed:
		}
	}
}
