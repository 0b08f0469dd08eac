package bot

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/alphagov/signon-token-bot/audit"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

const auditUsage = `Usage: bot audit [-format table|json] [-zone Europe/London] <run id>
       bot audit [-format table|json] [-zone Europe/London] --since <date>

Prints the audit trail of one run, or of every run since a date
(2026-12-01, or a time in RFC 3339 such as 2026-12-01T09:00:00Z), from the
bot's Redis: REDIS_URL, and STATE_PREFIX if the bot sets one. -config (or
CONFIG_FILE) gives the retention the bot keeps the trail for.
`

var auditRunID = regexp.MustCompile(`^r-[a-z0-9]{1,38}$`)

// maxSince bounds what --since prints: the all-runs stream's default cap.
const maxSince = state.DefaultAuditMaxLen

// auditCommand is `bot audit`.
func auditCommand(ctx context.Context, args []string, getenv func(string) string, configPath string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage) }
	format := fs.String("format", "table", "table or json (JSON lines)")
	zone := fs.String("zone", "UTC", "time zone of the dates shown")
	since := fs.String("since", "", "every run's entries from this date on")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("audit: -format is table or json, not %s", flows.Quote(*format))
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return fmt.Errorf("audit: -zone %s is not a time zone", flows.Quote(*zone))
	}
	var runID string
	var from time.Time
	switch {
	case *since != "" && fs.NArg() == 0:
		if from, err = parseSince(*since, loc); err != nil {
			return err
		}
	case *since == "" && fs.NArg() == 1 && auditRunID.MatchString(fs.Arg(0)):
		runID = fs.Arg(0)
	default:
		fmt.Fprint(stderr, auditUsage)
		return errors.New("audit: give one run id like r-abcd1234, or --since <date>")
	}

	cfg := DefaultConfig()
	var probs problems
	cfg.fromFile(&probs, getenv, configPath)
	if err := probs.err(); err != nil {
		return err
	}
	cfg.Redis = RedisConfig{URL: getenv("REDIS_URL")}
	if cfg.Redis.URL == "" {
		return errors.New("audit: REDIS_URL is required (the bot's Redis, redis://host:6379)")
	}
	if p := getenv("STATE_PREFIX"); p != "" {
		cfg.StatePrefix = p
	}
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return fmt.Errorf("audit: REDIS_URL: %w", err)
	}
	defer rdb.Close()
	store, err := state.New(rdb, state.Options{Prefix: cfg.StatePrefix, Retention: cfg.Retention})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	trail, err := readTrail(ctx, store, runID, from)
	if err != nil {
		return err
	}
	trail.Zone = loc
	if *format == "json" {
		return trail.WriteJSON(stdout)
	}
	return trail.WriteTable(stdout)
}

// parseSince reads a date (midnight in loc) or an RFC 3339 time.
func parseSince(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("audit: --since %s is not a date like 2026-12-01 or a time like 2026-12-01T09:00:00Z", flows.Quote(s))
}

// trailReader is what an audit trail is read from.
type trailReader interface {
	Run(ctx context.Context, id string) (*flows.Run, error)
	AuditTrail(ctx context.Context, runID string) ([]flows.AuditEntry, error)
	AuditSince(ctx context.Context, since time.Time, limit int64) ([]flows.AuditEntry, error)
	AuditLimits() (time.Duration, int64)
}

// readTrail reads a run's trail (runID set) or every run's since from,
// with the records of the runs still kept.
func readTrail(ctx context.Context, s trailReader, runID string, from time.Time) (audit.Trail, error) {
	t := audit.Trail{Runs: map[string]*flows.Run{}}
	t.Retention, t.MaxLen = s.AuditLimits()
	var err error
	if runID != "" {
		t.Scope = "run " + runID
		t.Entries, err = s.AuditTrail(ctx, runID)
	} else {
		t.Scope = "every run since " + from.Format(time.RFC3339)
		t.Entries, err = s.AuditSince(ctx, from, maxSince)
	}
	if err != nil {
		return t, fmt.Errorf("audit: %w", err)
	}
	if runID != "" && len(t.Entries) == 0 {
		return t, fmt.Errorf("audit: %w: no trail for run %s: no such run, or it ended more than %s ago", flows.ErrBadInput, runID, t.Retention)
	}
	for _, e := range t.Entries {
		if _, seen := t.Runs[e.RunID]; seen {
			continue
		}
		run, err := s.Run(ctx, e.RunID)
		switch {
		case errors.Is(err, flows.ErrRunNotFound):
			t.Runs[e.RunID] = nil
		case err != nil:
			return t, fmt.Errorf("audit: %w", err)
		default:
			t.Runs[e.RunID] = run
		}
	}
	return t, nil
}

var _ trailReader = (*state.Store)(nil)
