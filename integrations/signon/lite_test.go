package signon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"

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
	t.Parallel()
	signontest.Run(t, func(t *testing.T) signontest.World { return newLiteWorld(t, signon.Config{}) })
}

const (
	liteUser = "short-url-manager@alphagov.co.uk"
	liteApp  = "Publishing API"
)

// furnished is a signon-lite world with one API user, one application and
// the service identity.
func furnished(t *testing.T, cfg signon.Config) liteWorld {
	t.Helper()
	w := newLiteWorld(t, cfg)
	w.AddHumanUser("Token bot", signontest.SuiteServiceIdentity)
	w.AddAPIUser("Short URL Manager", liteUser)
	w.AddApplication(liteApp)
	return w
}

type shifted struct{ by time.Duration }

func (s shifted) Now() time.Time { return time.Now().UTC().Add(s.by) }

// TestWritesRefusedWhenTheClocksDisagree: with the bot's clock far ahead of
// Signon's the intent cannot be compared with created_at; with it far
// behind, the script would start after the bot's deadline. Either way the
// script writes nothing.
func TestWritesRefusedWhenTheClocksDisagree(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		by   time.Duration
		kind signon.Kind
	}{{10 * time.Minute, signon.KindClockSkew}, {-10 * time.Minute, signon.KindTooLate}} {
		w := furnished(t, signon.Config{Clock: shifted{c.by}})
		tok, _ := w.AddToken(liteUser, liteApp, time.Now().Add(-time.Hour), signon.DefaultTokenLife)
		before := w.Snapshot()
		_, err := w.Issue(t.Context(), flows.IssueRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, IntentAt: shifted{c.by}.Now()})
		var e *signon.Error
		if !errors.Is(err, flows.ErrUnavailable) || !errors.As(err, &e) || e.Kind != c.kind {
			t.Errorf("bot clock %v: Issue error %v, want %s", c.by, err, c.kind)
		}
		_, err = w.Revoke(t.Context(), flows.RevokeRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, TokenID: tok.ID})
		if !errors.As(err, &e) || e.Kind != c.kind {
			t.Errorf("bot clock %v: Revoke error %v, want %s", c.by, err, c.kind)
		}
		if w.Snapshot() != before {
			t.Errorf("bot clock %v: Signon changed", c.by)
		}
	}
}

// TestConcurrentIssuesWithOneIntentMakeOneToken: two replicas retrying the
// same intent at once get the same token: the user's row lock (InnoDB's
// SELECT ... FOR UPDATE) orders them, and under REPEATABLE READ the waiters
// still see the first one's token because their snapshot starts after the
// lock.
func TestConcurrentIssuesWithOneIntentMakeOneToken(t *testing.T) {
	t.Parallel()
	w := furnished(t, signon.Config{})
	intent := w.Now()
	results := make(chan flows.Issued, 3)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			got, err := w.Issue(t.Context(), flows.IssueRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, IntentAt: intent})
			results <- got
			errs <- err
		}()
	}
	var ids []int64
	existing := 0
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		got := <-results
		ids = append(ids, got.Token.ID)
		if got.Existing {
			existing++
		}
	}
	if n := w.TokenCount(liteUser, liteApp); n != 1 || existing != 2 || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("%d tokens, ids %v, %d existing: want one token, returned thrice", n, ids, existing)
	}
	if n := len(w.Events()); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// lossy runs the script to the end but loses its output and reports a
// timeout, as an exec stream that broke after the script committed.
type lossy struct{ signon.Runner }

func (l lossy) Run(ctx context.Context, command []string, stdin io.Reader, _, stderr io.Writer) error {
	if err := l.Runner.Run(ctx, command, stdin, io.Discard, stderr); err != nil {
		return err
	}
	return context.DeadlineExceeded
}

// TestAnIssueLostAfterCommitIsSafeToRetry: the retry with the same intent
// finds the token the lost call made.
func TestAnIssueLostAfterCommitIsSafeToRetry(t *testing.T) {
	t.Parallel()
	w := furnished(t, signon.Config{})
	broken, err := signon.New(lossy{w.Runner()}, signon.Config{ServiceIdentity: signontest.SuiteServiceIdentity})
	if err != nil {
		t.Fatal(err)
	}
	req := flows.IssueRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, IntentAt: w.Now()}
	if _, err := broken.Issue(t.Context(), req); !errors.Is(err, flows.ErrUnavailable) {
		t.Fatalf("lost Issue: %v, want unavailable", err)
	}
	if n := w.TokenCount(liteUser, liteApp); n != 1 {
		t.Fatalf("%d tokens after the lost Issue, want 1", n)
	}
	got, err := w.Issue(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Existing || w.TokenCount(liteUser, liteApp) != 1 {
		t.Errorf("the retry made another token")
	}
}

// TestATimeoutKillsRailsAndWritesNothing: a deadline shorter than Rails'
// boot ends the run, process group and all.
func TestATimeoutKillsRailsAndWritesNothing(t *testing.T) {
	t.Parallel()
	w := furnished(t, signon.Config{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := w.Issue(t.Context(), flows.IssueRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, IntentAt: w.Now()})
	var e *signon.Error
	if !errors.As(err, &e) || e.Kind != signon.KindTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Issue: %v, want a timeout", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the timed-out call took %v", took)
	}
	if n := w.TokenCount(liteUser, liteApp); n != 0 {
		t.Errorf("%d tokens, want none", n)
	}
}

// TestAnUnexpectedFailureRollsBackAndQuotesNoToken: a database error whose
// message holds the new token (MySQL's duplicate-entry error does) is
// reported as kind internal with the token cut out, and the transaction is
// rolled back.
func TestAnUnexpectedFailureRollsBackAndQuotesNoToken(t *testing.T) {
	t.Parallel()
	w := furnished(t, signon.Config{})
	faulty := w.Runner()
	faulty.Env = append(faulty.Env, "SIGNON_LITE_FAULT=duplicate_token")
	c, err := signon.New(faulty, signon.Config{ServiceIdentity: signontest.SuiteServiceIdentity})
	if err != nil {
		t.Fatal(err)
	}
	before := w.Snapshot()
	_, err = c.Issue(t.Context(), flows.IssueRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, IntentAt: w.Now()})
	var e *signon.Error
	if !errors.As(err, &e) || e.Kind != signon.KindInternal || !strings.Contains(err.Error(), "Duplicate entry '[redacted]'") {
		t.Fatalf("Issue: %v, want an internal error with the token redacted", err)
	}
	signontest.NoSecretIn(t, fmt.Sprintf("%v %#v", err, err))
	if w.Snapshot() != before {
		t.Error("the failed Issue changed Signon")
	}
}

// TestTheScriptRefusesBadRequestsItself sends requests the client would
// never send, straight to the script.
func TestTheScriptRefusesBadRequestsItself(t *testing.T) {
	t.Parallel()
	w := furnished(t, signon.Config{})
	now := time.Now().UTC().Format(time.RFC3339Nano)
	base := `"nonce":"00112233445566778899aabbccddeeff","sent_at":"` + now + `","deadline":"` + now + `","skew":60,"service_identity":"` + signontest.SuiteServiceIdentity + `"`
	for _, c := range []struct{ request, want string }{
		{`{` + base + `,"op":"drop_tables"}`, `"kind":"bad_input"`},
		{`{` + base + `,"op":"find_api_user","email":"Bot <x@y.org>"}`, `"kind":"bad_input"`},
		{`{` + base + `,"op":"tokens","email":"` + liteUser + `","application":"a\u0000b"}`, `"kind":"bad_input"`},
		{`{` + base + `,"op":"issue","email":"` + liteUser + `","application":"` + liteApp + `","intent_at":"yesterday"}`, `"kind":"bad_input"`},
		{`{` + base + `,"op":"revoke","email":"` + liteUser + `","application":"` + liteApp + `","token_id":1.5}`, `"kind":"bad_input"`},
		{`{` + base + `,"op":"expiring","within":-1}`, `"kind":"bad_input"`},
	} {
		before := w.Snapshot()
		var stdout, stderr strings.Builder
		err := w.Runner().Run(t.Context(), []string{"env", signon.RequestVariable + "=" + c.request, "bin/rails", "runner", "-"}, strings.NewReader(string(signon.Script())), &stdout, &stderr)
		if err != nil || !strings.Contains(stdout.String(), "signon-token-bot-result:00112233445566778899aabbccddeeff {\"ok\":false") || !strings.Contains(stdout.String(), c.want) {
			t.Errorf("request %s: err %v, stdout %q, stderr %q", c.request, err, stdout.String(), stderr.String())
		}
		if w.Snapshot() != before {
			t.Errorf("request %s changed Signon", c.request)
		}
	}
	var stdout, stderr strings.Builder
	err := w.Runner().Run(t.Context(), []string{"env", signon.RequestVariable + "={}", "bin/rails", "runner", "-"}, strings.NewReader(string(signon.Script())), &stdout, &stderr)
	var status interface{ ExitStatus() int }
	if !errors.As(err, &status) || status.ExitStatus() != 2 || strings.Contains(stdout.String(), "signon-token-bot-result") {
		t.Errorf("a request without a nonce: err %v, stdout %q; want exit 2 and no result", err, stdout.String())
	}
}

// BenchmarkRunnerBoot measures one call through `rails runner` on
// signon-lite, which is nearly all Rails' boot. Run it with
// -bench RunnerBoot -benchtime 20x; it reports the median.
func BenchmarkRunnerBoot(b *testing.B) {
	lite := signonlite.Start(b)
	lite.AddAPIUser("Short URL Manager", liteUser)
	c, err := signon.New(lite.Runner(), signon.Config{ServiceIdentity: signontest.SuiteServiceIdentity})
	if err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := c.FindAPIUser(b.Context(), liteUser); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "s/median-call")
}

// BenchmarkScriptPeakRSS measures the peak resident memory of one `rails
// runner` of the script on signon-lite, per operation: the figures in
// docs/operations.md. Run it with -bench ScriptPeakRSS -benchtime 3x.
func BenchmarkScriptPeakRSS(b *testing.B) {
	lite := signonlite.Start(b)
	lite.AddHumanUser("Token bot", signontest.SuiteServiceIdentity)
	lite.AddAPIUser("Short URL Manager", liteUser)
	lite.AddApplication(liteApp)
	var peak atomic.Int64
	runner := lite.Runner()
	runner.Exited = func(s *os.ProcessState) {
		if u, ok := s.SysUsage().(*syscall.Rusage); ok && u.Maxrss > peak.Load() {
			peak.Store(u.Maxrss)
		}
	}
	c, err := signon.New(runner, signon.Config{ServiceIdentity: signontest.SuiteServiceIdentity})
	if err != nil {
		b.Fatal(err)
	}
	hour := 0
	for _, op := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"find_api_user", func(ctx context.Context) error { _, err := c.FindAPIUser(ctx, liteUser); return err }},
		{"tokens", func(ctx context.Context) error { _, err := c.Tokens(ctx, liteUser, liteApp); return err }},
		{"expiring", func(ctx context.Context) error { _, err := c.Expiring(ctx, 14*24*time.Hour); return err }},
		{"issue", func(ctx context.Context) error {
			// A later intent each time, so that every call makes a token.
			hour++
			_, err := c.Issue(ctx, flows.IssueRequest{RunID: "r-rssbench", Email: liteUser, Application: liteApp, IntentAt: lite.Now().Add(time.Duration(hour) * time.Hour)})
			return err
		}},
		{"revoke", func(ctx context.Context) error {
			tok, _ := lite.AddToken(liteUser, liteApp, lite.Now().Add(-time.Hour), signon.DefaultTokenLife)
			_, err := c.Revoke(ctx, flows.RevokeRequest{RunID: "r-rssbench", Email: liteUser, Application: liteApp, TokenID: tok.ID})
			return err
		}},
	} {
		b.Run(op.name, func(b *testing.B) {
			peak.Store(0)
			for b.Loop() {
				if err := op.call(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak.Load())/1024, "MiB-peak-RSS")
		})
	}
}
