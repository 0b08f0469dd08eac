package commands_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what the bot says now")

// TestGoldenAnswers pins the private answer to each kind of error, each
// error made by the engine over the doubles where the engine can make it.
func TestGoldenAnswers(t *testing.T) {
	ctx := context.Background()
	clock := &flowstest.Clock{}
	sig := signontest.New(clock)
	sig.AddAPIUser(userName, userEmail)
	sig.AddAPIUser("Suspended Bot", "suspended@alphagov.co.uk")
	sig.AddAPIUser("Trade Tariff Admin", "trade-tariff@example.gov.uk")
	sig.AddApplication(appName)
	now := clock.Now()
	sig.AddToken(userEmail, appName, now.AddDate(-2, 0, 9), 2*365*24*time.Hour)
	sig.AddToken("suspended@alphagov.co.uk", appName, now.AddDate(-2, 0, 9), 2*365*24*time.Hour)
	sig.Suspend("suspended@alphagov.co.uk")
	cluster := &clustertest.Cluster{Tokens: sig, Clock: clock}
	cluster.AddDeployment("content-tagger", "app", variable, cluster.AddSecret(userName, appName))
	redis := redistest.NewMini(t)
	st, err := state.New(redis.Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := flows.GOVUKPolicy()
	p.OtherTeam[0].APIUsers = append(p.OtherTeam[0].APIUsers, "trade-tariff@example.gov.uk")
	p.OtherTeam[0].Link = "https://example.gov.uk/wiki/trade-tariff"
	for _, name := range []string{flows.Integration, flows.Production} {
		e := p.Environments[name]
		e.Starters = flows.Principals{Users: []string{alice}}
		p.Environments[name] = e
	}
	eng, err := flows.New(flows.Config{Policy: p,
		Envs:  map[string]flows.Env{flows.Production: {Signon: sig, Cluster: cluster}, flows.Integration: {Signon: sig, Cluster: cluster}},
		Store: st, Notifier: &flowstest.Notifier{}, Directory: &flowstest.Directory{}, Clock: clock, SweepEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	start := func(actor, env, email, app string) (*flows.Run, error) {
		return eng.Start(ctx, flows.StartRequest{Key: flows.Key{Environment: env, APIUser: email, Application: app}, Actor: actor, Thread: flows.Thread{Channel: ops}})
	}
	only := func(_ *flows.Run, err error) error { return err }
	run, err := start(alice, flows.Production, userEmail, appSlug)
	if err != nil {
		t.Fatal(err)
	}
	sig.Locked(func() {
		sig.FailNext = map[signon.Op]error{signon.OpTokens: fmt.Errorf("signon tokens: %w: exec in pod signon-6f9 timed out", flows.ErrUnavailable)}
	})
	signonDown := only(start(alice, flows.Integration, userEmail, appSlug))
	_, offerMissing := st.Offer(ctx, "o-nothere")
	_, runMissing := eng.Get(ctx, "r-nothere")
	stale := only(eng.Act(ctx, flows.ActRequest{RunID: run.ID, GateID: "abcdefgh", Action: flows.ActionApprove, Actor: alice}))
	redis.Stop()
	storeDown := only(start(alice, flows.Integration, userEmail, appSlug))
	redis.Start()

	var b strings.Builder
	for _, c := range []struct {
		name string
		err  error
	}{
		{"denied", only(start(mallory, flows.Production, userEmail, appSlug))},
		{"refused: staging", only(start(alice, flows.Staging, userEmail, appSlug))},
		{"refused: rotates itself", only(start(alice, flows.Production, "signon+permissions@alphagov.co.uk", "signon"))},
		{"refused: another team's", only(start(alice, flows.Production, "trade-tariff@example.gov.uk", appSlug))},
		{"a run under way", only(start(alice, flows.Production, userEmail, appSlug))},
		{"stale", stale},
		{"unknown API user", only(start(alice, flows.Integration, "nobody@alphagov.co.uk", appSlug))},
		{"unknown application", only(start(alice, flows.Integration, userEmail, "no-such-app"))},
		{"suspended", only(start(alice, flows.Integration, "suspended@alphagov.co.uk", appSlug))},
		{"bad input: environment", only(start(alice, "preview", userEmail, appSlug))},
		{"bad input: mrkdwn", only(start(alice, flows.Production, "<!channel>@x.com", appSlug))},
		{"no such run", runMissing},
		{"no such offer", offerMissing},
		{"Signon down", signonDown},
		{"state store down", storeDown},
		{"cluster forbids", fmt.Errorf("get secret apps/x: %w", flows.ErrForbidden)},
		{"environment not set up", fmt.Errorf("ask Signon about x: %w", &commands.BackendDown{Environment: "integration", Reason: "serviceIdentity is not configured"})},
		{"cluster down", fmt.Errorf("list deployments: %w: dial tcp 10.0.0.1:443: i/o timeout", flows.ErrTimeout)},
		{"damaged record", fmt.Errorf("load run: %w", &flows.CorruptError{Key: "stb:run:r-x", Err: errors.New("schema 2")})},
		{"anything else", errors.New("redis: connection refused at 10.0.0.1:6379")},
	} {
		if c.err == nil {
			t.Fatalf("%s: the engine made no error", c.name)
		}
		link := ""
		if c.name == "a run under way" || c.name == "stale" {
			link = "https://govuk.slack.com/archives/C0OPS/p1764144000000001"
		}
		fmt.Fprintf(&b, "=== %s\n%s\n", c.name, commands.Answer(c.err, link))
	}
	fmt.Fprintf(&b, "=== help\n%s\n", commands.Usage)
	got := strings.NewReplacer(run.ID, "r-run1").Replace(b.String())
	for _, bad := range []string{"<!channel>", "10.0.0.1", "signon-6f9"} {
		if strings.Contains(got, bad) {
			t.Errorf("an answer holds %q", bad)
		}
	}
	goldenText(t, "answers", got)
}

// goldenText compares text with testdata/name.golden.
func goldenText(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
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
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from %s at line %d (run with -update if meant):\n- %s\n+ %s", name, path, i+1, w, g)
			}
		}
	}
}

// Every answer escapes what it quotes: nothing from the error can ping
// or link.
func TestAnswersEscapeWhatTheyQuote(t *testing.T) {
	control := regexp.MustCompile(`<[!#]|<https?:|<@U2>`)
	for _, err := range []error{
		fmt.Errorf("%w: <!channel> and <https://evil|docs>", flows.ErrBadInput),
		&flows.DeniedError{User: "U1", What: "<!here>", Reason: "<@U2> <!subteam^S1>"},
		&flows.RefusedError{Special: flows.SpecialCase{Reason: "<!channel>", Link: "https://x>|<!channel"}},
		&flows.StaleError{Reason: "<!everyone>"},
		fmt.Errorf("%w: <!channel>", flows.ErrUnknownAPIUser),
	} {
		if got := commands.Answer(err, ""); control.MatchString(got) {
			t.Errorf("answer to %v holds %q: %s", err, control.FindString(got), got)
		}
	}
}
