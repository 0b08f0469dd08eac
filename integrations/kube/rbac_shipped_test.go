package kube_test

import (
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
	"github.com/alphagov/signon-token-bot/integrations/kube/rbaccheck"
)

// Every call the bot makes works for a user bound to the shipped Role and
// to nothing else, and calls beyond them are refused. The chart in deploy/
// takes its rules from the same file, and deploy/deploytest runs the same
// checks as the chart's ServiceAccount.
func TestShippedRoleAllowsEveryCallAndNoMore(t *testing.T) {
	t.Parallel()
	cp := kubetest.Shared(t)
	ns := cp.Namespace(t)
	f := rbaccheck.NewFixture(t, cp, ns)
	rc := cp.ConfigForRole(t, ns, rbaccheck.ReadRole(t, "../../deploy/rbac/role.yaml"))
	f.EveryCallAllowed(t, rc)
	f.WiderCallsDenied(t, rc)
}
