package deploytest

import (
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }
