package signon_test

import (
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signonlite"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// liteWorld is the Client running the script on a fresh signon-lite.
type liteWorld struct {
	*signon.Client
	*signonlite.Lite
}

func newLiteWorld(t *testing.T, cfg signon.Config) liteWorld {
	t.Helper()
	lite := signonlite.Start(t)
	if cfg.ServiceIdentity == "" {
		cfg.ServiceIdentity = signontest.SuiteServiceIdentity
	}
	c, err := signon.New(lite.Runner(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return liteWorld{c, lite}
}

// TestConformanceOnSignonLite runs the behavioural table through a real
// `rails runner` on signon-lite: the same table the double passes.
func TestConformanceOnSignonLite(t *testing.T) {
	signontest.Run(t, func(t *testing.T) signontest.World { return newLiteWorld(t, signon.Config{}) })
}
