// Command sandboxbot is the bot with every rotating environment's Signon
// and cluster served by an integrations/sandbox server at SANDBOX_URL,
// for cmd/bench and cmd/reliability, which kill and restart it as a
// process. It is not the bot's binary: cmd/bot has no setting that points
// an environment at a stand-in.
//
// Built with -tags profile (as make bench does for -cpuprofile and
// -memprofile), SANDBOXBOT_CPUPROFILE names a file for its CPU profile and
// SANDBOXBOT_MEMPROFILE one for a heap profile taken when it is told to
// stop. Without the tag it links no profiler, as the shipped bot links
// none: the Go linker then turns the runtime's heap sampling off, which
// changes the memory the benchmark measures.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/alphagov/signon-token-bot/cmd/internal/bot"
	"github.com/alphagov/signon-token-bot/integrations/sandbox"
)

func main() { bot.Main(run) }

// run is the bot's program given the sandbox at SANDBOX_URL.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	base := getenv("SANDBOX_URL")
	if base == "" {
		return errors.New("SANDBOX_URL is required: the address of the integrations/sandbox server that serves every rotating environment")
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("SANDBOX_URL: %q is not an http(s) URL", base)
	}
	p := bot.Program{Version: "sandbox", Wiring: bot.Wiring{Backend: sandbox.Backend(base)}}
	botCtx, finish, err := profile(ctx, getenv)
	if err != nil {
		return err
	}
	err = p.Run(botCtx, args, getenv, stdin, stdout, stderr)
	return errors.Join(err, finish())
}
