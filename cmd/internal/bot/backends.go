package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// probeSecret is the Secret the readiness probe asks for. It need not
// exist: an answer at all shows the cluster can be reached.
const probeSecret = "signon-token-bot-readiness-probe"

// environments are the rotating environments' backends, and what /readyz
// says of every configured environment. An environment that cannot be set
// up or reached does not stop the bot: its calls fail and say why.
type environments struct {
	envs  map[string]flows.Env
	every time.Duration
	log   *slog.Logger

	mu     sync.Mutex
	status map[string]string
	probes map[string]flows.Cluster
}

// newEnvironments makes each environment's Signon and cluster clients:
// kube over its kubeconfig context or the in-cluster account, Signon over
// the kube client's exec into the signon Deployment; or backend's, if set.
func newEnvironments(ctx context.Context, cfg *Config, backend func(context.Context, string) (flows.Env, error), clock flows.Clock, log *slog.Logger) *environments {
	e := &environments{envs: map[string]flows.Env{}, every: 30 * time.Second, log: log, status: map[string]string{}, probes: map[string]flows.Cluster{}}
	for name, ec := range cfg.Environments {
		if !ec.Rotate {
			e.status[name] = "not rotated (alerts are explained)"
			continue
		}
		env, err := backendOf(ctx, cfg, name, ec, backend, clock)
		if err != nil {
			log.ErrorContext(ctx, "environment unavailable", "environment", name, "err", err)
			e.status[name] = "unavailable: " + oneLine(err.Error())
		} else {
			e.status[name] = "not checked yet"
			e.probes[name] = env.Cluster
		}
		e.envs[name] = env
	}
	return e
}

// backendOf builds one environment. With an error, the Env it returns
// answers every call with that error.
func backendOf(ctx context.Context, cfg *Config, name string, ec Environment, backend func(context.Context, string) (flows.Env, error), clock flows.Clock) (flows.Env, error) {
	down := func(err error) (flows.Env, error) {
		u := unavailable{env: name, reason: err.Error(), namespace: ec.Namespace, cronJob: ec.CronJob}
		return flows.Env{Signon: u, Cluster: u}, err
	}
	if backend != nil {
		env, err := backend(ctx, name)
		if err != nil {
			return down(err)
		}
		return env, nil
	}
	env, err := kubeBackends(cfg, ec, clock)
	if err != nil {
		return down(err)
	}
	return env, nil
}

// errNoServiceIdentity: Signon refuses a change whose initiator it cannot
// name.
var errNoServiceIdentity = errors.New("serviceIdentity is not configured: Signon's event log needs an account to name when a requester has none")

// kubeBackends makes an environment's cluster client, over its kubeconfig
// context or the in-cluster account, and its Signon client over the
// cluster's exec. It reaches nothing yet, so check-config runs it too.
func kubeBackends(cfg *Config, ec Environment, clock flows.Clock) (flows.Env, error) {
	checks := map[string][]string{}
	for app, lc := range ec.LiveChecks {
		if !lc.Builtin {
			checks[app] = lc.Command
		}
	}
	kc, err := kube.New(kube.Config{
		Kubeconfig: ec.Kubeconfig, Context: ec.Context, Namespace: ec.Namespace, CronJob: ec.CronJob,
		SignonDeployment: ec.SignonDeployment, SignonContainer: ec.SignonContainer,
		SyncTimeout: ec.SyncTimeout, CallTimeout: ec.CallTimeout, LiveChecks: checks, Clock: clock,
	})
	if err != nil {
		return flows.Env{}, err
	}
	if cfg.ServiceIdentity == "" {
		return flows.Env{}, errNoServiceIdentity
	}
	sc, err := signon.New(kc.SignonRunner(), signon.Config{ServiceIdentity: cfg.ServiceIdentity, Clock: clock})
	if err != nil {
		return flows.Env{}, err
	}
	return flows.Env{Signon: sc, Cluster: kc}, nil
}

// Run asks each cluster for a Secret every so often, until ctx ends, so
// that /readyz says which environments answer.
func (e *environments) Run(ctx context.Context) error {
	t := time.NewTicker(e.every)
	defer t.Stop()
	for {
		e.probe(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (e *environments) probe(ctx context.Context) {
	e.mu.Lock()
	probes := make(map[string]flows.Cluster, len(e.probes))
	for name, c := range e.probes {
		probes[name] = c
	}
	e.mu.Unlock()
	for name, c := range probes {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Secret(pctx, probeSecret)
		cancel()
		status := "ok"
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			status = "cluster unreachable: " + oneLine(err.Error())
		}
		e.mu.Lock()
		if e.status[name] != status {
			e.log.InfoContext(ctx, "environment", "environment", name, "status", status)
		}
		e.status[name] = status
		e.mu.Unlock()
	}
}

// Lines says how each environment stands, one line each, for /readyz.
func (e *environments) Lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for name, s := range e.status {
		out = append(out, fmt.Sprintf("environment %s: %s", name, truncate(s, 300)))
	}
	slices.Sort(out)
	return out
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
