package flows

import (
	"context"
	"time"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// Cluster is what the flows need from one environment's Kubernetes cluster:
// the sync CronJob, the token Secrets and the workloads that consume them.
// Errors wrap ErrNotFound, ErrForbidden, ErrUnavailable or ErrTimeout.
type Cluster interface {
	// Location names where the sync runs: the namespace and the CronJob.
	Location() (namespace, cronJob string)
	// SecretName is the Secret the sync job writes for an API user (by
	// name, not email) and application (by Signon name).
	SecretName(apiUserName, application string) string
	// Secret reads the Secret's bearer_token and returns its fingerprint,
	// never its value. A missing Secret is not an error: Exists is false.
	Secret(ctx context.Context, name string) (SecretState, error)
	// Consumers lists every workload in the namespace that reads the Secret.
	Consumers(ctx context.Context, secret string) ([]Consumer, error)
	// StartSync returns the sync Job the run (runID names the run and
	// attempt) relies on for a change made at after: the Job this run
	// made already (found by runID, even after a crash), else a Job of the
	// CronJob that started at or after after (to the second) and has not
	// failed (Adopted), else one still running that started before after
	// (Earlier: wait for it to end, then ask again), else a new Job made
	// as Argo CD's "Create job" does.
	StartSync(ctx context.Context, runID string, after time.Time) (SyncJob, error)
	// WaitSync watches the Job until it finishes or ctx ends. A Job that
	// fails is a result with Succeeded false, not an error.
	WaitSync(ctx context.Context, job, secret string, progress func(SyncProgress)) (SyncResult, error)
	// WaitRollout waits until the Deployment has rolled out pods created at
	// or after since and they are ready. If no rollout has begun after
	// startTimeout it returns ErrRolloutNotStarted.
	WaitRollout(ctx context.Context, deployment string, since time.Time, startTimeout time.Duration) (Rollout, error)
	// RestartDeployment does what `kubectl rollout restart` does.
	RestartDeployment(ctx context.Context, deployment string, at time.Time) error
	// CheckPods computes, inside one ready pod of the consumer (per
	// container), the fingerprint of the variable that holds the token, and
	// compares it with want. The value never leaves the pod.
	CheckPods(ctx context.Context, c Consumer, want token.Fingerprint) ([]PodCheck, error)
	// LiveCheck runs the smoke command configured for the application in a
	// consumer pod. Configured is false when there is none.
	LiveCheck(ctx context.Context, c Consumer, application string) (LiveCheck, error)
}

// SecretState is what the bot may know of a token Secret.
type SecretState struct {
	Name        string            `json:"name"`
	Exists      bool              `json:"exists"`
	Fingerprint token.Fingerprint `json:"fingerprint,omitempty"`
	// UpdatedAt is the server's time of the Secret's last write, if known.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Consumer is one workload container that reads a token Secret.
type Consumer struct {
	// Kind is "Deployment" or "CronJob".
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Container string `json:"container"`
	// Variable is the environment variable that holds the token. For
	// envFrom it is the Secret's key (bearer_token).
	Variable string `json:"variable"`
	// Via is "env" (valueFrom.secretKeyRef) or "envFrom" (secretRef).
	Via string `json:"via"`
}

// SyncJob is a Job of the sync CronJob that a run waits on.
type SyncJob struct {
	Name string `json:"name"`
	// Adopted is true when this run did not make the Job: another run
	// did, or the CronJob's schedule.
	Adopted bool `json:"adopted"`
	// Earlier: the Job runs, but started before the run's change, so it
	// may not write it. The run waits for it to end, then asks again.
	Earlier   bool      `json:"earlier,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// Runs are the active runs, this one included, that the engine saw
	// rely on the Job when it finished (a batch confirmed together).
	Runs []string `json:"runs,omitempty"`
}

// SyncProgress is one observed change of the sync Job: "created",
// "scheduled", "running", "succeeded" or "failed".
type SyncProgress struct {
	Job   string    `json:"job"`
	Phase string    `json:"phase"`
	Pod   string    `json:"pod,omitempty"`
	At    time.Time `json:"at"`
}

// SyncResult is how a sync Job ended.
type SyncResult struct {
	Job       string `json:"job"`
	Succeeded bool   `json:"succeeded"`
	// SecretLines are the Job's log lines that name the run's Secret.
	SecretLines []string `json:"secret_lines,omitempty"`
	// LogTail and Events explain a failure.
	LogTail     []string  `json:"log_tail,omitempty"`
	Events      []string  `json:"events,omitempty"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// Rollout is the state of a Deployment's rollout after a Secret change.
type Rollout struct {
	Deployment string `json:"deployment"`
	Started    bool   `json:"started"`
	Complete   bool   `json:"complete"`
	Replicas   int32  `json:"replicas"`
	Ready      int32  `json:"ready"`
}

// PodCheck is the in-pod comparison for one container.
type PodCheck struct {
	// Deployment is the consumer the pod belongs to, set by the flows.
	Deployment  string            `json:"deployment,omitempty"`
	Pod         string            `json:"pod"`
	Container   string            `json:"container"`
	Variable    string            `json:"variable"`
	Fingerprint token.Fingerprint `json:"fingerprint"`
	Match       bool              `json:"match"`
}

// LiveCheck is the result of a consumer's smoke command.
type LiveCheck struct {
	Configured bool     `json:"configured"`
	Passed     bool     `json:"passed"`
	Pod        string   `json:"pod,omitempty"`
	Command    string   `json:"command,omitempty"`
	Output     []string `json:"output,omitempty"`
}
