package blocks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what the renderers make now")

// The people and the token of the golden scenarios.
const (
	alice = "U0ALICE"
	bob   = "U0BOB"

	userEmail = "content-tagger@alphagov.co.uk"
	userName  = "Content Tagger"
	appName   = "Publishing API"
	appSlug   = "publishing-api"
	variable  = "PUBLISHING_API_BEARER_TOKEN"
)

var render = blocks.Renderer{WorkspaceURL: "https://govuk.slack.com/"}

// recorder is a Notifier that keeps a copy of the run at every sync, so
// that a test can render the thread as it was at each step.
type recorder struct {
	flowstest.Notifier
	mu    sync.Mutex
	snaps []*flows.Run
}

func (r *recorder) Sync(ctx context.Context, run *flows.Run) (map[string]flows.Receipt, error) {
	b, err := json.Marshal(run)
	if err != nil {
		return nil, err
	}
	var cp flows.Run
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.snaps = append(r.snaps, &cp)
	r.mu.Unlock()
	return r.Notifier.Sync(ctx, run)
}

func (r *recorder) snapshots(id string) []*flows.Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*flows.Run
	for _, s := range r.snaps {
		if s.ID == id {
			out = append(out, s)
		}
	}
	return out
}

// scene is an engine over the Signon double and the cluster stand-in.
type scene struct {
	t       *testing.T
	ctx     context.Context
	clock   *flowstest.Clock
	signon  *signontest.Signon
	cluster *clustertest.Cluster
	rec     *recorder
	engine  *flows.Engine
	old     flows.Token
}

func newScene(t *testing.T, external bool, lastUsed time.Duration) *scene {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	s := &scene{t: t, ctx: ctx, clock: &flowstest.Clock{}, rec: &recorder{}}
	s.signon = signontest.New(s.clock)
	s.signon.AddHumanUser("Alice", "alice@digital.cabinet-office.gov.uk")
	s.signon.AddAPIUser(userName, userEmail)
	s.signon.AddApplication(appName)
	now := s.clock.Now()
	created := now.AddDate(-2, 0, 9)
	s.old, _ = s.signon.AddToken(userEmail, appName, created, now.AddDate(0, 0, 9).Sub(created))
	s.signon.SetLastSynced(userEmail, appName, now.Add(-lastUsed))
	s.cluster = &clustertest.Cluster{Tokens: s.signon, Clock: s.clock}
	secret := s.cluster.AddSecret(userName, appName)
	if !external {
		s.cluster.AddDeployment("content-tagger", "app", variable, secret)
		s.cluster.AddDeployment("draft-content-tagger", "app", variable, secret)
	}
	st, err := state.New(redistest.NewMini(t).Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := flows.GOVUKPolicy()
	p.HumanEmailSuffixes = []string{"@digital.cabinet-office.gov.uk"}
	p.OtherTeam[0].Link = "https://example.gov.uk/wiki/trade-tariff-admin"
	for _, name := range []string{flows.Integration, flows.Production} {
		e := p.Environments[name]
		e.Starters = flows.Principals{Users: []string{alice, bob}}
		p.Environments[name] = e
	}
	backends := flows.Env{Signon: s.signon, Cluster: s.cluster}
	s.engine, err = flows.New(flows.Config{
		Policy: p, Envs: map[string]flows.Env{flows.Production: backends, flows.Integration: backends},
		Store: st, Notifier: s.rec, Directory: &flowstest.Directory{Emails: map[string]string{alice: "alice@digital.cabinet-office.gov.uk"}},
		Revealer: &flowstest.Revealer{}, Clock: s.clock, Owner: "golden", LeaseTTL: time.Minute, SweepEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.engine.Run(runCtx)
	}()
	t.Cleanup(func() { stop(); <-done })
	return s
}

func (s *scene) start(mode flows.Mode) *flows.Run {
	s.t.Helper()
	run, err := s.engine.Start(s.ctx, flows.StartRequest{Key: flows.Key{Environment: flows.Production, APIUser: userEmail, Application: appSlug},
		Mode: mode, Actor: alice, Thread: flows.Thread{Channel: "C0OPS"}, Origin: flows.Origin{Kind: "command"}})
	if err != nil {
		s.t.Fatal(err)
	}
	return run
}

func (s *scene) wait(id string, cond func(*flows.Run) bool) *flows.Run {
	s.t.Helper()
	run, err := s.engine.WaitFor(s.ctx, id, func(r *flows.Run) bool {
		if !cond(r) {
			return false
		}
		for _, p := range r.Posts {
			if _, ok := r.Receipts[p.ID]; !ok {
				return false
			}
		}
		return true
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return run
}

func (s *scene) act(run *flows.Run, a flows.Action, who string) {
	s.t.Helper()
	if _, err := s.engine.Act(s.ctx, flows.ActRequest{RunID: run.ID, GateID: run.Gate.ID, Action: a, Actor: who}); err != nil {
		s.t.Fatalf("%s by %s: %v", a, who, err)
	}
}

func atGate(k flows.GateKind) func(*flows.Run) bool {
	return func(r *flows.Run) bool { return r.Phase != flows.PhaseRunning && r.Gate != nil && r.Gate.Kind == k }
}

func ended(r *flows.Run) bool { return r.Ended() }

// named is one rendered message in a golden file.
type named struct {
	Name    string          `json:"name"`
	Message json.RawMessage `json:"message"`
}

// thread renders every state of a run's thread that the engine synced:
// the status message and each post each time it rendered differently.
func (s *scene) thread(id string) []named {
	var out []named
	seen := map[string]bool{}
	add := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			s.t.Fatal(err)
		}
		if seen[name+string(b)] {
			return
		}
		seen[name+string(b)] = true
		out = append(out, named{Name: name, Message: b})
	}
	for _, run := range s.rec.snapshots(id) {
		add("status", render.Status(run))
		for _, p := range run.Posts {
			add("post "+p.ID, render.Post(run, p))
		}
	}
	return out
}

// golden compares what was rendered with testdata/name.golden, after
// replacing what differs between runs (ids, fingerprints) with stable
// names. It fails if a token could be in it.
func golden(t *testing.T, name string, sig *signontest.Signon, runs []*flows.Run, msgs []named) {
	t.Helper()
	var b bytes.Buffer
	for _, m := range msgs {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, m.Message, "", "  "); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "=== %s\n%s\n", m.Name, pretty.String())
	}
	got := normalise(b.String(), sig, runs)
	for _, s := range sig.IssuedSecrets() {
		if strings.Contains(got, s.Reveal()) {
			t.Fatalf("%s holds a token (fingerprint %s)", name, s.Fingerprint())
		}
	}
	// Kubernetes names are 43 characters too, but in lower case only.
	for _, m := range token.Pattern.FindAllStringSubmatch(got, -1) {
		if strings.ToLower(m[1]) != m[1] {
			t.Fatalf("%s holds something shaped like a token: %q", name, m[1])
		}
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update if the change is meant):\n%s", name, path, diff(string(want), got))
	}
}

// normalise names run ids, gate ids and fingerprints by their order and
// token ids, which do not change between runs.
func normalise(text string, sig *signontest.Signon, runs []*flows.Run) string {
	var pairs []string
	for i, run := range runs {
		pairs = append(pairs, run.ID, fmt.Sprintf("r-run%d", i+1))
	}
	gates := map[string]bool{}
	for _, run := range runs {
		for _, p := range run.Posts {
			if p.Gate != "" {
				gates[p.Gate] = true
			}
		}
	}
	var ids []string
	for g := range gates {
		ids = append(ids, g)
	}
	sort.Slice(ids, func(i, j int) bool { return strings.Index(text, ids[i]) < strings.Index(text, ids[j]) })
	for i, g := range ids {
		pairs = append(pairs, g, fmt.Sprintf("gate%04d", i+1))
	}
	if sig != nil {
		for _, email := range []string{userEmail} {
			ts, err := sig.Tokens(context.Background(), email, appName)
			if err != nil {
				continue
			}
			for _, tk := range ts.Tokens {
				pairs = append(pairs, string(tk.Fingerprint), fmt.Sprintf("fp-of-token-%04d", tk.ID), tk.Fingerprint.Short(), fmt.Sprintf("fp#%05d", tk.ID))
			}
		}
	}
	// A failure's error id is random: the log line it points to is what
	// matters, not its value.
	return errorID.ReplaceAllString(strings.NewReplacer(pairs...).Replace(text), "error e-ID;")
}

var errorID = regexp.MustCompile(`error e-[a-z0-9]+;`)

// diff shows the first lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b)
		}
	}
	return ""
}
