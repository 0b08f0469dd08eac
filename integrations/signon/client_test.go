package signon_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// recorded is a Runner that answers with recorded output. In the output,
// {{NONCE}} becomes the call's nonce and {{SECRET}} / {{FINGERPRINT}} a fresh
// token and its fingerprint, so no token is ever stored in testdata.
type recorded struct {
	stdout, stderr string
	err            error
	// block makes Run wait for the context to end, writing stdout first.
	block bool

	mu      sync.Mutex
	calls   int
	command []string
	stdin   []byte
	request map[string]any
	secret  token.Secret
	secrets []token.Secret
}

func (r *recorded) Run(ctx context.Context, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.command = slices.Clone(command)
	r.stdin, _ = io.ReadAll(stdin)
	r.request = nil
	for _, arg := range command {
		if body, ok := strings.CutPrefix(arg, signon.RequestVariable+"="); ok {
			_ = json.Unmarshal([]byte(body), &r.request)
		}
	}
	r.secret = token.Generate()
	r.secrets = append(r.secrets, r.secret)
	sum := sha256.Sum256([]byte(r.secret.Reveal()))
	nonce, _ := r.request["nonce"].(string)
	fill := strings.NewReplacer("{{NONCE}}", nonce, "{{SECRET}}", r.secret.Reveal(), "{{FINGERPRINT}}", hex.EncodeToString(sum[:])[:16])
	_, _ = io.WriteString(stdout, fill.Replace(r.stdout))
	_, _ = io.WriteString(stderr, fill.Replace(r.stderr))
	if r.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return r.err
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type clock struct{ t time.Time }

func (c clock) Now() time.Time { return c.t }

var botNow = time.Date(2026, 8, 18, 9, 0, 0, 0, time.UTC)

func client(t *testing.T, r signon.Runner, cfg signon.Config) *signon.Client {
	t.Helper()
	if cfg.ServiceIdentity == "" {
		cfg.ServiceIdentity = "Token-Bot@digital.cabinet-office.gov.uk"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock{botNow}
	}
	c, err := signon.New(r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const email = "short-url-manager@alphagov.co.uk"

func TestCommandLineIsEnvThenRailsRunnerWithTheScriptOnStdin(t *testing.T) {
	r := &recorded{stdout: testdata(t, "issue.stdout")}
	c := client(t, r, signon.Config{Timeout: 45 * time.Second})
	intent := botNow.Add(-time.Minute)
	if _, err := c.Issue(t.Context(), flows.IssueRequest{RunID: "r-test0001", Email: "Short-URL-Manager@alphagov.co.uk", Application: "Publishing API", IntentAt: intent, Initiator: "Ada.Lovelace@digital.cabinet-office.gov.uk"}); err != nil {
		t.Fatal(err)
	}
	// env(1) first, with the quiet environment and the request, replacing
	// itself with timeout(1): 45s leaves 4.5s of grace and 9s to reach the
	// pod, so the process has 31.5s there.
	quiet := []string{"env", "-u", "GOVUK_RAILS_JSON_LOGGING", "-u", "SENTRY_DSN", "RAILS_LOG_LEVEL=warn", "ENABLE_OPEN_TELEMETRY=false"}
	if len(r.command) != 15 || !slices.Equal(r.command[:7], quiet) || !strings.HasPrefix(r.command[7], "SIGNON_BOT_REQUEST={") ||
		!slices.Equal(r.command[8:], []string{"timeout", "-k", "4.5s", "31.5s", "bin/rails", "runner", "-"}) {
		t.Fatalf("command = %q", r.command)
	}
	if string(r.stdin) != string(signon.Script()) || !strings.Contains(string(r.stdin), "SignonTokenBot.main(ENV.fetch(\"SIGNON_BOT_REQUEST\"") {
		t.Errorf("stdin is not the embedded script")
	}
	want := map[string]any{
		"op": "issue", "email": email, "application": "Publishing API",
		"intent_at": "2026-08-18T08:59:00Z", "sent_at": "2026-08-18T09:00:00Z", "deadline": "2026-08-18T09:00:31.5Z",
		"skew": 60.0, "initiator": "ada.lovelace@digital.cabinet-office.gov.uk", "service_identity": "token-bot@digital.cabinet-office.gov.uk",
	}
	for k, v := range want {
		if r.request[k] != v {
			t.Errorf("request[%s] = %v, want %v", k, r.request[k], v)
		}
	}
	if n, _ := r.request["nonce"].(string); len(n) != 32 {
		t.Errorf("nonce %q is not 32 hex digits", n)
	}

	r2 := &recorded{stdout: testdata(t, "revoke.stdout")}
	c2 := client(t, r2, signon.Config{Rails: []string{"bundle", "exec", "rails"}})
	if _, err := c2.Revoke(t.Context(), flows.RevokeRequest{RunID: "r-test0001", Email: email, Application: "publishing-api", TokenID: 17}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r2.command[8:], []string{"timeout", "-k", "5s", "70s", "bundle", "exec", "rails", "runner", "-"}) {
		t.Errorf("command = %q", r2.command)
	}
	if r2.request["token_id"] != 17.0 || r2.request["initiator"] != nil {
		t.Errorf("request = %v", r2.request)
	}
}

func TestRecordedResultsAmidNoise(t *testing.T) {
	ctx := t.Context()
	set, err := client(t, &recorded{stdout: testdata(t, "tokens.stdout")}, signon.Config{}).Tokens(ctx, email, "publishing-api")
	if err != nil {
		t.Fatal(err)
	}
	wantSet := flows.TokenSet{
		User:        flows.APIUser{ID: 7, Name: "Short URL Manager", Email: email},
		Application: flows.Application{ID: 3, Name: "Publishing API", Slug: "publishing-api"},
		Tokens: []flows.Token{
			{ID: 42, CreatedAt: time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2028, 7, 31, 21, 38, 24, 0, time.UTC), Fingerprint: "65d96b93651f50f6"},
			{ID: 17, CreatedAt: time.Date(2024, 8, 20, 10, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2026, 8, 20, 21, 38, 24, 0, time.UTC), RevokedAt: time.Date(2026, 8, 18, 9, 0, 0, 500000000, time.UTC), Fingerprint: "0123456789abcdef"},
		},
		LastSyncedAt: time.Date(2026, 8, 17, 23, 59, 59, 0, time.UTC),
	}
	if fmt.Sprint(set) != fmt.Sprint(wantSet) {
		t.Errorf("Tokens =\n%+v\nwant\n%+v", set, wantSet)
	}

	rows, err := client(t, &recorded{stdout: testdata(t, "expiring.stdout")}, signon.Config{}).Expiring(ctx, 14*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Token.ID != 51 || !rows[0].LastSyncedAt.IsZero() || rows[1].User.Name != "Short URL Manager" ||
		rows[1].Application.Slug != "publishing-api" || !rows[1].LastSyncedAt.Equal(time.Date(2026, 8, 18, 8, 55, 0, 0, time.UTC)) {
		t.Errorf("Expiring = %+v", rows)
	}

	r := &recorded{stdout: testdata(t, "issue.stdout")}
	issued, err := client(t, r, signon.Config{}).Issue(ctx, flows.IssueRequest{RunID: "r-test0001", Email: email, Application: "Publishing API", IntentAt: botNow})
	if err != nil {
		t.Fatal(err)
	}
	if issued.Secret.Reveal() != r.secret.Reveal() || issued.Token.Fingerprint != r.secret.Fingerprint() || issued.Existing || issued.Token.ID != 43 ||
		issued.Initiator != (flows.Initiator{Email: "ada.lovelace@digital.cabinet-office.gov.uk"}) {
		t.Errorf("Issue = %+v", issued)
	}
	if b, err := json.Marshal(issued); err != nil || strings.Contains(string(b), r.secret.Reveal()) {
		t.Errorf("an Issued marshals its secret: %v", err)
	}

	revoked, err := client(t, &recorded{stdout: testdata(t, "revoke.stdout")}, signon.Config{}).Revoke(ctx, flows.RevokeRequest{RunID: "r-test0001", Email: email, Application: "Publishing API", TokenID: 17})
	if err != nil {
		t.Fatal(err)
	}
	if !revoked.Token.Revoked() || revoked.Initiator != (flows.Initiator{Email: "token-bot@digital.cabinet-office.gov.uk", Service: true}) {
		t.Errorf("Revoke = %+v", revoked)
	}
}

// exit is a non-zero exit as the Kubernetes exec client reports it.
type exit int

func (e exit) Error() string   { return fmt.Sprintf("command terminated with exit code %d", int(e)) }
func (e exit) ExitStatus() int { return int(e) }

func failure(kind signon.Kind, message string) string {
	return fmt.Sprintf("\nsignon-token-bot-result:{{NONCE}} {\"ok\":false,\"now\":\"2026-08-18T09:00:02Z\",\"error\":{\"kind\":%q,\"message\":%q}}\n", kind, message)
}

func TestEveryErrorKindBecomesATypedError(t *testing.T) {
	ok := testdata(t, "issue.stdout")
	for _, c := range []struct {
		name     string
		run      *recorded
		timeout  time.Duration
		kind     signon.Kind
		sentinel error
	}{
		{"bad input", &recorded{stdout: failure("bad_input", "email \"x\" is not an email address")}, 0, signon.KindBadInput, flows.ErrBadInput},
		{"unknown API user", &recorded{stdout: failure("unknown_api_user", "ada@x.org is a Signon user but not an API user")}, 0, signon.KindUnknownAPIUser, flows.ErrUnknownAPIUser},
		{"unknown application", &recorded{stdout: failure("unknown_application", "Signon has no application named whitehall")}, 0, signon.KindUnknownApplication, flows.ErrUnknownApplication},
		{"suspended", &recorded{stdout: failure("suspended", "API user x@y.org is suspended")}, 0, signon.KindSuspended, flows.ErrSuspended},
		{"wrong owner", &recorded{stdout: failure("wrong_owner", "token 9 is not a token of x@y.org for Publishing API")}, 0, signon.KindWrongOwner, flows.ErrWrongOwner},
		{"already revoked", &recorded{stdout: failure("already_revoked", "token 9 was revoked at 2026-08-18T09:00:00Z")}, 0, signon.KindAlreadyRevoked, flows.ErrAlreadyRevoked},
		{"unknown token", &recorded{stdout: failure("unknown_token", "there is no token 9")}, 0, signon.KindUnknownToken, flows.ErrUnknownToken},
		{"no initiator", &recorded{stdout: failure("no_initiator", "the bot's service identity has no active Signon account")}, 0, signon.KindNoInitiator, flows.ErrBadInput},
		{"clock skew", &recorded{stdout: failure("clock_skew", "Signon's clock is 300s behind the bot's")}, 0, signon.KindClockSkew, flows.ErrUnavailable},
		{"too late", &recorded{stdout: failure("too_late", "nothing was written")}, 0, signon.KindTooLate, flows.ErrUnavailable},
		{"internal, with a token in the exception", &recorded{stdout: failure("internal", "ActiveRecord::RecordNotUnique: Duplicate entry '{{SECRET}}'"), stderr: testdata(t, "internal.stderr"), err: exit(1)}, 0, signon.KindInternal, flows.ErrUnavailable},
		{"unknown kind", &recorded{stdout: failure("exploded", "what")}, 0, signon.KindBadResult, flows.ErrUnavailable},
		{"failure without error", &recorded{stdout: "signon-token-bot-result:{{NONCE}} {\"ok\":false}\n"}, 0, signon.KindBadResult, flows.ErrUnavailable},
		{"success without result", &recorded{stdout: "signon-token-bot-result:{{NONCE}} {\"ok\":true}\n"}, 0, signon.KindBadResult, flows.ErrUnavailable},
		{"result line not JSON", &recorded{stdout: "signon-token-bot-result:{{NONCE}} {\"ok\":tru\n"}, 0, signon.KindBadResult, flows.ErrUnavailable},
		{"two result lines", &recorded{stdout: ok + ok}, 0, signon.KindBadResult, flows.ErrUnavailable},
		{"result of another run", &recorded{stdout: strings.ReplaceAll(ok, "{{NONCE}}", "0123456789abcdef0123456789abcdef")}, 0, signon.KindNoResult, flows.ErrUnavailable},
		{"issued token malformed", &recorded{stdout: strings.ReplaceAll(ok, "{{SECRET}}", "{{SECRET}}!")}, 0, signon.KindBadResult, flows.ErrUnavailable},
		{"issued token not matching its fingerprint", &recorded{stdout: strings.ReplaceAll(ok, "{{FINGERPRINT}}", strings.Repeat("ab", 8))}, 0, signon.KindBadResult, flows.ErrUnavailable},
		// The script prints 16 hex digits; a whole SHA-256 is not its output.
		{"a full digest instead of a fingerprint", &recorded{stdout: strings.ReplaceAll(ok, `"fingerprint":"{{FINGERPRINT}}"`, `"fingerprint":"{{FINGERPRINT}}`+strings.Repeat("0", 48)+`"`)}, 0, signon.KindBadResult, flows.ErrUnavailable},
		{"no result, exit 0", &recorded{stdout: "Loading production environment (Rails 8.1.3)\n"}, 0, signon.KindNoResult, flows.ErrUnavailable},
		{"exit status with a token on stderr", &recorded{stderr: testdata(t, "internal.stderr"), err: exit(1)}, 0, signon.KindExec, flows.ErrUnavailable},
		{"exec failed", &recorded{err: errors.New("container signon-app not found in pod signon-5d9f")}, 0, signon.KindExec, flows.ErrUnavailable},
		{"timeout", &recorded{stdout: "booting...\n", block: true}, 20 * time.Millisecond, signon.KindTimeout, flows.ErrUnavailable},
		{"stopped in the pod by timeout(1)'s TERM", &recorded{stdout: "booting...\n", err: exit(124)}, 0, signon.KindTimeout, flows.ErrUnavailable},
		{"stopped in the pod by timeout(1)'s KILL", &recorded{stdout: "booting...\n", err: exit(137)}, 0, signon.KindTimeout, flows.ErrUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.run
			_, err := client(t, r, signon.Config{Timeout: c.timeout}).Issue(t.Context(), flows.IssueRequest{RunID: "r-test0001", Email: email, Application: "Publishing API", IntentAt: botNow})
			if !errors.Is(err, c.sentinel) {
				t.Fatalf("error %v, want %v", err, c.sentinel)
			}
			var e *signon.Error
			if !errors.As(err, &e) || e.Kind != c.kind || e.Op != signon.OpIssue {
				t.Fatalf("error %#v, want kind %s", err, c.kind)
			}
			if !strings.HasPrefix(err.Error(), "signon issue: "+c.sentinel.Error()+": ") {
				t.Errorf("message %q does not name the operation and the sentinel", err)
			}
			if c.kind == signon.KindTimeout && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a timeout does not wrap context.DeadlineExceeded")
			}
			if c.kind == signon.KindExec && c.run.err != nil && !errors.Is(err, c.run.err) {
				t.Errorf("the runner's error is not wrapped")
			}
			signontest.NoSecretIn(t, err.Error(), r.secrets...)
			signontest.NoSecretIn(t, fmt.Sprintf("%+v %#v", err, err), r.secrets...)
		})
	}
}

func TestAResultWinsOverATimeout(t *testing.T) {
	r := &recorded{stdout: testdata(t, "issue.stdout"), block: true}
	got, err := client(t, r, signon.Config{Timeout: 20 * time.Millisecond}).Issue(t.Context(), flows.IssueRequest{RunID: "r-test0001", Email: email, Application: "publishing-api", IntentAt: botNow})
	if err != nil {
		t.Fatalf("the script committed and printed its result, but: %v", err)
	}
	if got.Secret.Fingerprint() != r.secret.Fingerprint() {
		t.Errorf("wrong token")
	}
}

func TestBadInputNeverReachesSignon(t *testing.T) {
	r := &recorded{stdout: testdata(t, "issue.stdout")}
	c := client(t, r, signon.Config{})
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"find: not an email":     func() error { _, err := c.FindAPIUser(ctx, "short-url-manager"); return err },
		"find: display name":     func() error { _, err := c.FindAPIUser(ctx, "Bot <bot@x.org>"); return err },
		"tokens: no application": func() error { _, err := c.Tokens(ctx, email, " "); return err },
		"tokens: control char":   func() error { _, err := c.Tokens(ctx, email, "publishing-api\x00"); return err },
		"tokens: long name":      func() error { _, err := c.Tokens(ctx, email, strings.Repeat("a", 256)); return err },
		"expiring: zero window":  func() error { _, err := c.Expiring(ctx, 0); return err },
		"expiring: huge window":  func() error { _, err := c.Expiring(ctx, 100*366*24*time.Hour); return err },
		"issue: no intent": func() error {
			_, err := c.Issue(ctx, flows.IssueRequest{RunID: "r-test0001", Email: email, Application: "x"})
			return err
		},
		"issue: bad initiator": func() error {
			_, err := c.Issue(ctx, flows.IssueRequest{RunID: "r-test0001", Email: email, Application: "x", IntentAt: botNow, Initiator: "<!channel>"})
			return err
		},
		"revoke: no token id": func() error {
			_, err := c.Revoke(ctx, flows.RevokeRequest{RunID: "r-test0001", Email: email, Application: "x"})
			return err
		},
		"revoke: bad application": func() error {
			_, err := c.Revoke(ctx, flows.RevokeRequest{RunID: "r-test0001", Email: email, TokenID: 3})
			return err
		},
	} {
		err := call()
		var e *signon.Error
		if !errors.Is(err, flows.ErrBadInput) || !errors.As(err, &e) || e.Kind != signon.KindBadInput {
			t.Errorf("%s: %v, want bad input", name, err)
		}
	}
	if r.calls != 0 {
		t.Errorf("bad input ran the script %d times", r.calls)
	}
}

func TestNewChecksItsConfig(t *testing.T) {
	r := &recorded{}
	for name, cfg := range map[string]signon.Config{
		"no service identity":  {},
		"bad service identity": {ServiceIdentity: "token bot"},
		"negative timeout":     {ServiceIdentity: "a@b.org", Timeout: -time.Second},
	} {
		if _, err := signon.New(r, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := signon.New(nil, signon.Config{ServiceIdentity: "a@b.org"}); err == nil {
		t.Error("no runner: accepted")
	}
}

func TestOversizedOutputIsRefused(t *testing.T) {
	r := &recorded{stdout: strings.Repeat("x", 9<<20) + testdata(t, "issue.stdout")}
	_, err := client(t, r, signon.Config{}).Issue(t.Context(), flows.IssueRequest{RunID: "r-test0001", Email: email, Application: "x", IntentAt: botNow})
	var e *signon.Error
	if !errors.As(err, &e) || e.Kind != signon.KindBadResult {
		t.Fatalf("error %v, want bad result", err)
	}
}

// lateStream returns at the deadline while its stream goroutine still
// writes, as client-go's exec does when a call is cut short.
type lateStream struct{ done chan struct{} }

func (l *lateStream) Run(ctx context.Context, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	go func() {
		defer close(l.done)
		for i := 0; i < 2000; i++ {
			_, _ = stderr.Write([]byte("INFO: still booting\n"))
			_, _ = stdout.Write([]byte("noise\n"))
		}
	}()
	<-ctx.Done()
	return ctx.Err()
}

// Under -race this fails if the client reads the output while the stream
// still writes it.
func TestWritesAfterTheDeadlineAreDropped(t *testing.T) {
	r := &lateStream{done: make(chan struct{})}
	_, err := client(t, r, signon.Config{Timeout: time.Millisecond}).Revoke(t.Context(), flows.RevokeRequest{RunID: "r-test0001", Email: email, Application: "publishing-api", TokenID: 6})
	<-r.done
	if err == nil {
		t.Fatal("a call cut short by its deadline succeeded")
	}
}
