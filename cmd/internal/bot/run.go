// Package bot is the bot's program: its commands, configuration and
// wiring. cmd/bot runs it as it ships; cmd/sandboxbot and cmd/demo wire it
// to stand-ins, which this package does not import, so that no test double
// is linked into the production binary (deploy/deploytest checks).
package bot

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
)

const usage = `Usage: bot [-config file.yaml] [command]

Commands:
  serve          run the bot (the default)
  parse-alert    read one Slack message as JSON on stdin and print what the
                 bot reads in it (is it the alert, which tokens, is its
                 sender among the configuration's alertSenders, ...)
  check-config   check the configuration as serve would (the YAML file, the
                 environment, each environment's kubeconfig and context,
                 serviceIdentity), without reaching Slack, Redis or a
                 cluster; print every problem, or a summary with warnings
  audit          print a run's audit trail, or every run's since a date,
                 from Redis (bot audit -h)
  version        print the version

Configuration comes from environment variables and the optional YAML file
(-config or CONFIG_FILE); the README lists every key.
`

// commandUsage is each command's own -h.
var commandUsage = map[string]string{
	"parse-alert": `Usage: bot parse-alert [-config file.yaml] < message.json

Reads one Slack message as JSON on stdin (an Events API message event, an
event_callback around one, or a chat.postMessage or webhook payload) and
prints, as one JSON line, what the bot reads in it: the alert, its status,
environment and tokens, the sender, and under "why" each reason the bot
would not answer it with its tokens (not the alert, another alert, no
labels found, a sender not among alertSenders, a channel not among
alertChannels). With the configuration (-config or CONFIG_FILE) it checks
the sender and channel; it needs no Slack token or Redis.

Try it: bot parse-alert < commands/testdata/example-alert-integration.json
`,
	"check-config": `Usage: bot check-config [-config file.yaml]

Checks the environment variables and the YAML file (-config or
CONFIG_FILE) as serve would, each environment's kubeconfig and context
included, without reaching Slack, Redis or a cluster. Prints every
problem and exits 1, or prints a summary, what it could not check here,
and warnings about what can never happen.
`,
}

// Program is the bot as a main runs it.
type Program struct {
	// Version is what `version` prints.
	Version string
	// Wiring replaces parts the configuration would otherwise build.
	Wiring Wiring
}

// Run is the whole program; a main only adds signals and the exit code.
func (p Program) Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	configPath := fs.String("config", "", "YAML configuration file (default $CONFIG_FILE)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cmd := "serve"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
		if cmd == "audit" {
			// audit has flags and arguments of its own.
			return auditCommand(ctx, fs.Args()[1:], getenv, *configPath, stdout, stderr)
		}
		if cmd == "demo" {
			// The production binary holds no stand-ins to play a demo with.
			return errors.New("the demo is a command of its own, not the bot's: go run ./cmd/demo")
		}
		// Flags may follow the command too: bot check-config -config x.yaml.
		if u, ok := commandUsage[cmd]; ok {
			fs.Usage = func() { fmt.Fprint(stderr, u) }
		}
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected argument %q after %s", fs.Arg(0), cmd)
		}
	}

	switch cmd {
	case "version":
		_, err := fmt.Fprintf(stdout, "signon-token-bot %s (%s)\n", p.Version, runtime.Version())
		return err
	case "parse-alert":
		cfg, err := alertConfig(getenv, *configPath)
		if err != nil {
			return err
		}
		return parseAlert(stdin, stdout, cfg)
	case "check-config":
		cfg, err := loadConfig(getenv, *configPath)
		if err != nil {
			return err
		}
		notes, err := checkStart(cfg, getenv)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(stdout, checkReport(cfg, notes))
		return err
	case "serve":
		cfg, err := loadConfig(getenv, *configPath)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, newLogger(cfg, stderr), p.Wiring)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: redactAttr}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// summary describes a valid configuration without its secrets.
func summary(cfg *Config) string {
	var b strings.Builder
	file := cfg.File
	if file == "" {
		file = "none (GOV.UK defaults)"
	}
	fmt.Fprintf(&b, "configuration is valid\nconfig file: %s\nslack api: %s\n", file, cfg.Slack.APIURL)
	switch r := cfg.Redis; {
	case r.URL != "":
		fmt.Fprintln(&b, "redis: REDIS_URL (standalone)")
	case r.MasterName != "":
		fmt.Fprintf(&b, "redis: Sentinel master %s at %s\n", r.MasterName, strings.Join(r.Addrs, ", "))
	case r.Cluster:
		fmt.Fprintf(&b, "redis: Cluster at %s\n", strings.Join(r.Addrs, ", "))
	default:
		fmt.Fprintf(&b, "redis: %s\n", r.Addrs[0])
	}
	fmt.Fprintf(&b, "state prefix: %s\nhttp: %s\n", cfg.StatePrefix, cfg.HTTPAddr)
	channels := "none"
	if len(cfg.AlertChannels) > 0 {
		channels = strings.Join(cfg.AlertChannels, ", ")
	}
	fmt.Fprintf(&b, "alert channels: %s\n", channels)
	senders := "none"
	if len(cfg.AlertSenders) > 0 {
		senders = strings.Join(cfg.AlertSenders, ", ")
	}
	fmt.Fprintf(&b, "alert senders: %s\n", senders)
	fmt.Fprintf(&b, "signon consoles at once per environment: %d\n", cfg.SignonConcurrency)
	names := make([]string, 0, len(cfg.Environments))
	for n := range cfg.Environments {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		e := cfg.Environments[n]
		mode := "rotated"
		if !e.Rotate {
			mode = "explained, not rotated"
		}
		fmt.Fprintf(&b, "environment %s: %s; namespace %s; starters: %d users, %d groups; approvers: %d users, %d groups\n",
			n, mode, e.Namespace, len(e.Starters.Users), len(e.Starters.Groups), len(e.Approvers.Users), len(e.Approvers.Groups))
	}
	return b.String()
}
