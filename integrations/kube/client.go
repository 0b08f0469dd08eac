// Package kube is the flows' view of one environment's Kubernetes cluster,
// built on client-go: it runs the Signon token sync Job, reads token
// Secrets by fingerprint, finds the workloads that consume them, waits for
// their rollouts, and proves inside a pod that a container holds the new
// token without the token leaving the pod.
//
// The Role in deploy/rbac/role.yaml grants exactly the calls made here.
package kube

import (
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alphagov/signon-token-bot/flows"
)

// GOV.UK's names, the defaults of Config.
const (
	DefaultNamespace        = "apps"
	DefaultCronJob          = "signon-sync-token-secrets-to-k8s"
	DefaultSignonDeployment = "signon"
	DefaultSignonContainer  = "app"
	DefaultSyncTimeout      = 10 * time.Minute
	DefaultCallTimeout      = 30 * time.Second
	DefaultExecTimeout      = 2 * time.Minute
)

// Config is how to reach one environment's cluster and what is where in it.
type Config struct {
	// Kubeconfig is a kubeconfig file, and Context a context in it. With
	// both empty the bot uses its in-cluster service account.
	Kubeconfig string
	Context    string

	// Namespace holds the sync CronJob, the token Secrets and their
	// consumers.
	Namespace string
	// CronJob is the Signon token sync CronJob.
	CronJob string
	// SignonDeployment and SignonContainer are where Signon's Ruby runs.
	SignonDeployment string
	SignonContainer  string
	// SyncTimeout bounds WaitSync.
	SyncTimeout time.Duration
	// CallTimeout bounds each single call to the apiserver (a get, list,
	// create, patch or log read). Watches and waits have their own
	// deadlines.
	CallTimeout time.Duration
	// ExecTimeout bounds a command the bot runs in a consumer's pod (the
	// fingerprint and the live check) when the caller has no sooner
	// deadline.
	ExecTimeout time.Duration
	// LiveChecks maps an application (parameterised, e.g. "publishing-api")
	// to a smoke command run in a consumer's container; exit 0 passes.
	// "{{variable}}" in an argument becomes the name of the variable that
	// holds the token. It adds to, and overrides, the built-in checks.
	LiveChecks map[string][]string
	// Clock stamps progress; the system clock if nil.
	Clock flows.Clock
}

func (c Config) withDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.CronJob == "" {
		c.CronJob = DefaultCronJob
	}
	if c.SignonDeployment == "" {
		c.SignonDeployment = DefaultSignonDeployment
	}
	if c.SignonContainer == "" {
		c.SignonContainer = DefaultSignonContainer
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.ExecTimeout <= 0 {
		c.ExecTimeout = DefaultExecTimeout
	}
	if c.Clock == nil {
		c.Clock = flows.SystemClock{}
	}
	return c
}

// Client is one environment's cluster.
type Client struct {
	cfg  Config
	rest *rest.Config
	api  groups
}

// New connects to the cluster cfg names: its kubeconfig context, or the
// in-cluster service account.
func New(cfg Config) (*Client, error) {
	var rc *rest.Config
	var err error
	if cfg.Kubeconfig == "" && cfg.Context == "" {
		rc, err = rest.InClusterConfig()
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = cfg.Kubeconfig
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
			&clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes config (kubeconfig %q, context %q): %w", cfg.Kubeconfig, cfg.Context, err)
	}
	return NewForConfig(rc, cfg)
}

// NewForConfig uses rc to reach the cluster; cfg's Kubeconfig and Context
// are ignored.
func NewForConfig(rc *rest.Config, cfg Config) (*Client, error) {
	rc = rest.CopyConfig(rc)
	// A rotation makes bursts of calls (a list, a watch, an exec per
	// consumer); client-go's default of 5 per second would queue them.
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 50, 100
	}
	api, err := newGroups(rc)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg.withDefaults(), rest: rc, api: api}, nil
}

// Namespace is the namespace the client works in.
func (c *Client) Namespace() string { return c.cfg.Namespace }

// Location names the namespace and the sync CronJob, for the thread.
func (c *Client) Location() (namespace, cronJob string) { return c.cfg.Namespace, c.cfg.CronJob }

var _ flows.Cluster = (*Client)(nil)
