package signon

import (
	"context"
	_ "embed"
	"io"
	"strconv"
	"time"
)

// Runner runs a command in the signon app container and waits.
// A non-zero exit is an error with an ExitStatus() int method.
type Runner interface {
	Run(ctx context.Context, command []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// RequestVariable is the environment variable that carries the request.
const RequestVariable = "SIGNON_BOT_REQUEST"

// script is the only code the bot runs in Signon.
//
//go:embed script.rb
var script []byte

// Script returns the Ruby the client runs, for review and for tests that run
// it by other means.
func Script() []byte { return append([]byte(nil), script...) }

// quietEnv is how the script's process differs from the container's:
// Signon's image and the cluster's shared ConfigMap turn on what a web
// process wants, and a one-off console process that handles a token wants
// none of it.
//
//   - RAILS_LOG_LEVEL=warn: production.rb takes the level from it (info
//     by default; debug, should someone set it on the Deployment, logs SQL
//     with its literal values, the new token among them).
//   - ENABLE_OPEN_TELEMETRY=false: govuk_app_config's railtie instruments
//     everything and exports spans (SQL included) to Tempo when it is
//     "true", and does so for `rails runner` (it skips only the console).
//   - no GOVUK_RAILS_JSON_LOGGING: the railtie checks only that it is set,
//     so "false" would not do; unset, Rails logs plain lines at the level
//     above.
//   - no SENTRY_DSN: an exception's message can quote a value, and it
//     must not leave the pod; the script reports its errors itself.
var quietEnv = []string{
	"-u", "GOVUK_RAILS_JSON_LOGGING",
	"-u", "SENTRY_DSN",
	"RAILS_LOG_LEVEL=warn",
	"ENABLE_OPEN_TELEMETRY=false",
}

// bounds splits a call's timeout into the time the process may run in the
// pod (limit), the grace between timeout(1)'s TERM and its KILL, and what
// is left over for finding the pod and opening the exec stream. Closing
// the stream does not stop the process, so the bound has to be in the pod,
// and the process must be dead before the bot stops waiting: a call the
// bot gave up on is then one that can no longer commit, and its retry
// (Issue finds the token made after the intent, Revoke finds it revoked)
// never runs beside it. limit+grace is at most 80% of the timeout.
func bounds(timeout time.Duration) (limit, grace time.Duration) {
	grace = min(timeout/10, 5*time.Second)
	margin := min(timeout/5, 15*time.Second)
	return timeout - grace - margin, grace
}

// command is the exact command line the Runner receives:
//
//	env -u GOVUK_RAILS_JSON_LOGGING -u SENTRY_DSN RAILS_LOG_LEVEL=warn \
//	    ENABLE_OPEN_TELEMETRY=false SIGNON_BOT_REQUEST=<json> \
//	    timeout -k <grace> <limit> bin/rails runner -
//
// with the script on stdin. `rails runner -` evaluates stdin as a file
// named "stdin", so an error keeps its real backtrace and exit status
// (code given as an argument turns a NameError into a generic usage
// message). The request goes through env(1) rather than the runner's
// arguments so that Rails' own option parser never sees it, and env(1)
// comes first because it replaces itself with timeout(1), which stays for
// the whole run: the request is in no argument list that `ps` shows while
// Rails runs. It holds no secret anyway (emails, an application name, a
// token id, times). timeout(1) sends TERM at the limit, which rolls back
// an open transaction, and KILL after the grace.
func command(rails []string, request []byte, limit, grace time.Duration) []string {
	cmd := make([]string, 0, len(quietEnv)+len(rails)+9)
	cmd = append(cmd, "env")
	cmd = append(cmd, quietEnv...)
	cmd = append(cmd, RequestVariable+"="+string(request))
	cmd = append(cmd, "timeout", "-k", seconds(grace), seconds(limit))
	cmd = append(cmd, rails...)
	return append(cmd, "runner", "-")
}

// seconds formats d as timeout(1) reads a duration.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// timeoutExit is timeout(1)'s status when it stopped the command: 124
// after TERM, 128+9 when it had to KILL.
func timeoutExit(status int) bool { return status == 124 || status == 137 }
