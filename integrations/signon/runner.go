package signon

import (
	"context"
	_ "embed"
	"io"
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

// command is the exact command line the Runner receives:
//
//	env SIGNON_BOT_REQUEST=<json> bin/rails runner -
//
// with the script on stdin. `rails runner -` evaluates stdin as a file
// named "stdin", so an error keeps its real backtrace and exit status
// (code given as an argument turns a NameError into a generic usage
// message). The request goes through env(1) rather than the runner's
// arguments so that Rails' own option parser never sees it; it holds no
// secret (emails, an application name, a token id, times).
func command(rails []string, request []byte) []string {
	cmd := make([]string, 0, len(rails)+4)
	cmd = append(cmd, "env", RequestVariable+"="+string(request))
	cmd = append(cmd, rails...)
	return append(cmd, "runner", "-")
}
