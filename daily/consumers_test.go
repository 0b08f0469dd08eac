package daily_test

import (
	"reflect"
	"testing"

	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
)

// TestTheSweepKeepsEachTokensConsumers: each sweep looks at the cluster
// once, whatever the number of pairs, and the recorded report names each
// pair's consumers, which the Home tab shows without a call of its own.
// A cluster that cannot be read leaves the report without them, and the
// digest still goes out.
func TestTheSweepKeepsEachTokensConsumers(t *testing.T) {
	w := newWorld(t)
	w.signon.AddAPIUser("Partner Feed", "feed@partner.example.com")
	w.signon.AddApplication("Content Store")
	w.signon.AddToken("feed@partner.example.com", "Content Store", w.clock.Now().Add(20*day-flows.TokenLife), flows.TokenLife)
	cluster := &clustertest.Cluster{Tokens: w.signon}
	tagger := cluster.AddSecret("Content Tagger", "Publishing API")
	cluster.AddDeployment("content-tagger", "app", "PUBLISHING_API_BEARER_TOKEN", tagger)
	cluster.AddCronJob("content-tagger-nightly", "task", "PUBLISHING_API_BEARER_TOKEN", tagger)
	sched, _ := daily.ParseSchedule("02:00")
	s, err := daily.New(daily.Config{Environment: "integration", Schedule: sched, Owner: "a"},
		daily.Parts{Estate: w.signon, Workloads: cluster, Store: w.store, Runs: w.store, Publisher: w.digests, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Tick(t.Context()); !ok || err != nil {
		t.Fatalf("sweep: %v %v", ok, err)
	}
	if n := cluster.Calls("SecretReaders"); n != 1 || cluster.Calls("Consumers") != 0 {
		t.Errorf("the sweep of 2 pairs listed readers %d times and consumers %d times, want one listing", n, cluster.Calls("Consumers"))
	}
	last, err := s.Last(t.Context())
	if err != nil || last == nil || len(last.Pairs) != 2 {
		t.Fatalf("last sweep %+v, %v", last, err)
	}
	want := map[string][]flows.Consumer{
		"content-tagger@alphagov.co.uk": {
			{Kind: "Deployment", Name: "content-tagger", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"},
			{Kind: "CronJob", Name: "content-tagger-nightly", Container: "task", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"},
		},
		"feed@partner.example.com": nil,
	}
	for _, p := range last.Pairs {
		got, known := last.ConsumersOf(p)
		if !known || !reflect.DeepEqual(got, want[p.User.Email]) {
			t.Errorf("consumers of %s as recorded: %+v (known %v), want %+v", p.User.Email, got, known, want[p.User.Email])
		}
	}

	cluster.Err = flows.ErrUnavailable
	w.clock.Advance(day)
	if ok, err := s.Tick(t.Context()); !ok || err != nil {
		t.Fatalf("sweep with the apiserver down: %v %v, want the digest all the same", ok, err)
	}
	last, _ = s.Last(t.Context())
	if _, known := last.ConsumersOf(last.Pairs[0]); known || last.ConsumersUnread == "" {
		t.Errorf("with the apiserver down the report claims to know the consumers (unread: %q)", last.ConsumersUnread)
	}
	if got := w.digests.posted(); len(got) != 2 {
		t.Errorf("digests %q, want two", got)
	}
}
