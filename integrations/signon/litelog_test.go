package signon_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// recording keeps what the runs printed, as the exec stream carries it.
type recording struct {
	signon.Runner
	// loud undoes the quiet environment the bot gives the console, as a
	// Signon left at its own settings (JSON logs, debug) would run it.
	loud bool

	mu             sync.Mutex
	stdout, stderr bytes.Buffer
}

// loud is the bot's command with Signon's own logging settings left alone
// and the level at debug.
func loud(command []string) []string {
	var out []string
	for i := 0; i < len(command); i++ {
		switch a := command[i]; {
		case a == "-u" && i+1 < len(command) && command[i+1] == "GOVUK_RAILS_JSON_LOGGING":
			i++
		case strings.HasPrefix(a, "RAILS_LOG_LEVEL="):
			out = append(out, "RAILS_LOG_LEVEL=debug")
		default:
			out = append(out, a)
		}
	}
	return out
}

func (r *recording) Run(ctx context.Context, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if r.loud {
		command = loud(command)
	}
	var out, errs bytes.Buffer
	err := r.Runner.Run(ctx, command, stdin, io.MultiWriter(stdout, &out), io.MultiWriter(stderr, &errs))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stdout.Write(out.Bytes())
	r.stderr.Write(errs.Bytes())
	return err
}

// issueAtLogLevel issues a token on signon-lite, with the bot's quiet
// environment or (loud) with Signon's own logging at debug, and returns the token and what the run printed besides its result
// line, which is the one place the token belongs.
func issueAtLogLevel(t *testing.T, loud bool) (token.Secret, string, string) {
	t.Helper()
	w := furnished(t, signon.Config{})
	rec := &recording{Runner: w.Runner(), loud: loud}
	c, err := signon.New(rec, signon.Config{ServiceIdentity: signontest.SuiteServiceIdentity})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Issue(t.Context(), flows.IssueRequest{RunID: "r-quietlogs", Email: liteUser, Application: liteApp, IntentAt: w.Now()})
	if err != nil {
		t.Fatalf("Issue (loud %t): %v", loud, err)
	}
	var rest []string
	results := 0
	for line := range strings.Lines(rec.stdout.String()) {
		if strings.HasPrefix(line, "signon-token-bot-result:") {
			results++
			continue
		}
		rest = append(rest, line)
	}
	if results != 1 {
		t.Fatalf("%d result lines, want 1", results)
	}
	return got.Secret, strings.Join(rest, ""), rec.stderr.String()
}

// TestNoTokenReachesTheExecStreamAtTheBotsLogLevel: with the environment
// the bot sets (warn, no JSON request logs, no OpenTelemetry), what Signon
// still prints (the ruby wrapper's INFO line on stderr) surrounds the
// result line and quotes no token.
func TestNoTokenReachesTheExecStreamAtTheBotsLogLevel(t *testing.T) {
	t.Parallel()
	secret, stdout, stderr := issueAtLogLevel(t, false)
	if !strings.Contains(stderr, "INFO: with_tmpdir_for_ruby: execing ruby") {
		t.Errorf("signon-lite printed none of Signon's noise: stdout %q, stderr %q", stdout, stderr)
	}
	signontest.NoSecretIn(t, stdout, secret)
	signontest.NoSecretIn(t, stderr, secret)
}

// TestAtDebugSignonLogsTheToken: at debug ActiveRecord logs the INSERT with
// its values, so the token reaches stdout outside the result line; this is
// why the bot must not leave the level to Signon's default. It also shows
// that the test above would see a leak.
func TestAtDebugSignonLogsTheToken(t *testing.T) {
	t.Parallel()
	secret, stdout, _ := issueAtLogLevel(t, true)
	if !strings.Contains(stdout, `"level":"DEBUG"`) || !strings.Contains(stdout, "INSERT INTO") {
		t.Fatalf("no SQL debug log lines on stdout at debug")
	}
	if !strings.Contains(stdout, secret.Reveal()) {
		t.Errorf("the SQL log at debug does not quote token %s: the leak test could not see a leak", secret.Fingerprint())
	}
}
