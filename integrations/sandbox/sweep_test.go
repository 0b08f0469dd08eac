package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/sandbox"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// lastDigest keeps the report of the digest a sweep posted.
type lastDigest struct {
	mu  sync.Mutex
	rep *daily.Report
}

func (d *lastDigest) Digest(_ context.Context, r *daily.Report) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rep = r
	return nil
}

// TestASweepThroughTheSandbox: the environment's Signon as the bot gets it
// from sandbox.Backend (cmd/sandboxbot's wiring) reports its estate, so a
// daily sweep reads it in one call and its digest holds what the double
// reports in process: the expiring pair and the superseded token, and
// the consumers the cluster lists in one call.
func TestASweepThroughTheSandbox(t *testing.T) {
	clock := &flowstest.Clock{}
	double := signontest.New(clock)
	double.AddAPIUser("Content Tagger", "content-tagger@alphagov.co.uk")
	double.AddAPIUser("Partner Feed", "feed@partner.example.com")
	double.AddApplication("Publishing API")
	double.AddToken("feed@partner.example.com", "Publishing API", clock.Now().Add(10*24*time.Hour-flows.TokenLife), flows.TokenLife)
	double.AddToken("content-tagger@alphagov.co.uk", "Publishing API", clock.Now().Add(-400*24*time.Hour), flows.TokenLife)
	double.AddToken("content-tagger@alphagov.co.uk", "Publishing API", clock.Now().Add(-time.Hour), flows.TokenLife)
	cluster := &clustertest.Cluster{Tokens: double}
	cluster.AddDeployment("content-tagger", "app", "PUBLISHING_API_BEARER_TOKEN", cluster.AddSecret("Content Tagger", "Publishing API"))
	srv := httptest.NewServer(&sandbox.Server{Envs: map[string]flows.Env{"integration": {Signon: double, Cluster: cluster}}})
	t.Cleanup(srv.Close)
	env, err := sandbox.Backend(srv.URL)(t.Context(), "integration")
	if err != nil {
		t.Fatal(err)
	}
	estate, ok := env.Signon.(daily.Estate)
	if !ok {
		t.Fatalf("the sandbox's Signon (%T) has no estate report: the bot's sweep fails in sandboxbot", env.Signon)
	}
	workloads, ok := env.Cluster.(daily.Workloads)
	if !ok {
		t.Fatalf("the sandbox's cluster (%T) cannot list the Secrets' readers", env.Cluster)
	}
	store, err := state.New(redistest.New(t).Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sched, _ := daily.ParseSchedule("02:00")
	digest := &lastDigest{}
	s, err := daily.New(daily.Config{Environment: "integration", Schedule: sched, Owner: "replica-a"},
		daily.Parts{Estate: estate, Workloads: workloads, Store: store, Runs: store, Publisher: digest, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if swept, err := s.Tick(t.Context()); !swept || err != nil {
		t.Fatalf("sweep through the sandbox: swept %v, %v", swept, err)
	}
	if n := double.Calls(signon.OpEstate); n != 1 {
		t.Errorf("%d estate calls reached Signon, want 1", n)
	}
	want, err := double.Estate(t.Context(), daily.DefaultHomeWithin)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(digest.rep.Pairs)
	inProcess, _ := json.Marshal(want.Pairs)
	if string(got) != string(inProcess) {
		t.Errorf("the digest's pairs through the sandbox:\n%s\nwant, as the double reports them:\n%s", got, inProcess)
	}
	if len(digest.rep.Superseded()) != 1 || len(digest.rep.Groups()) != 1 {
		t.Errorf("the digest has %d superseded pairs and %d groups, want 1 and 1", len(digest.rep.Superseded()), len(digest.rep.Groups()))
	}
	for _, p := range digest.rep.Pairs {
		cons, known := digest.rep.ConsumersOf(p)
		if want := p.User.Name == "Content Tagger"; !known || (len(cons) == 1) != want {
			t.Errorf("consumers of %s through the sandbox: %+v (listed %v)", p.User.Name, cons, known)
		}
	}
	if n := cluster.Calls("SecretReaders"); n != 1 {
		t.Errorf("%d listings of the Secrets' readers for one sweep", n)
	}
	if _, err := estate.Estate(t.Context(), -time.Hour); !errors.Is(err, flows.ErrBadInput) {
		t.Errorf("a negative window through the sandbox: %v, want ErrBadInput", err)
	}
}
