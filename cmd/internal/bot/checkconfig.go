package bot

import (
	"fmt"
	"strings"

	"github.com/alphagov/signon-token-bot/state"
)

// checkStart finds what serve would refuse, or mark down once running,
// beyond the configuration's own checks: the runbook's policy the engine
// validates, the state store's options, and each rotating environment's
// backends as serve builds them (the kubeconfig and its context, the
// serviceIdentity Signon needs). It reaches no server: Slack, Redis and
// the clusters are serve's to find. notes say what it could not check
// here, such as the in-cluster account outside a pod.
func checkStart(cfg *Config, getenv func(string) string) (notes []string, err error) {
	var p problems
	if err := policyOf(cfg).Validate(); err != nil {
		p.errorf("%v", err)
	}
	if rdb, err := newRedis(cfg.Redis); err != nil {
		p.errorf("redis client: %v", err)
	} else {
		if _, err := state.New(rdb, state.Options{Prefix: cfg.StatePrefix, Retention: cfg.Retention}); err != nil {
			p.errorf("state store: %v", err)
		}
		_ = rdb.Close()
	}
	for _, name := range sortedKeys(cfg.Environments) {
		ec := cfg.Environments[name]
		if !ec.Rotate {
			continue
		}
		key := "environments." + name
		if ec.Kubeconfig == "" && ec.Context == "" && getenv("KUBERNETES_SERVICE_HOST") == "" {
			notes = append(notes, fmt.Sprintf("environment %s uses the pod's ServiceAccount (no kubeconfig): checked only inside a pod", name))
			if cfg.ServiceIdentity == "" {
				p.errorf("%s: %v", key, errNoServiceIdentity)
			}
			continue
		}
		if _, err := kubeBackends(cfg, ec, nil); err != nil {
			p.errorf("%s: %v", key, err)
		}
	}
	return notes, p.err()
}

// warnings name what a valid configuration can never do. A new key that
// can leave the bot idle adds its warning here.
func warnings(cfg *Config) []string {
	var w []string
	switch {
	case len(cfg.AlertChannels) == 0:
		w = append(w, "alertChannels is empty: the bot answers no alert, only /rotate-token")
	case len(cfg.AlertSenders) == 0:
		w = append(w, "alertChannels are set but alertSenders is empty, so no message counts as an alert: add the bot id (B…) of Alertmanager's Slack integration")
	}
	for _, name := range sortedKeys(cfg.Environments) {
		e := cfg.Environments[name]
		if e.Rotate && len(e.Starters.Users) == 0 && len(e.Starters.Groups) == 0 {
			w = append(w, fmt.Sprintf("environment %s rotates but names no starters: nobody can start a rotation there", name))
		}
	}
	return w
}

// checkReport is check-config's summary of a configuration serve would
// run with, then what it could not check and what can never happen.
func checkReport(cfg *Config, notes []string) string {
	var b strings.Builder
	b.WriteString(summary(cfg))
	for _, n := range notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, w := range warnings(cfg) {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}
