// Package audit renders the bot's audit trail for people, in Slack and on
// a terminal: each entry with its date and zone, who did it, what changed,
// the Signon tokens it touched (ids and fingerprints, never a token), and
// where Signon's own EventLog recorded the change. The trail says what it
// keeps, so that a reader knows what may be missing.
package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// Trail is a run's audit trail, or every run's since a time.
type Trail struct {
	// Scope says what was asked for: "run r-abc" or "since 2026-12-01".
	Scope   string
	Entries []flows.AuditEntry
	// Runs are the records of the entries' runs, for the tokens' names;
	// a run whose record has expired is missing.
	Runs map[string]*flows.Run
	// Retention is how long a finished run's trail and the all-runs
	// stream are kept after their last entry; MaxLen caps the all-runs
	// stream.
	Retention time.Duration
	MaxLen    int64
	// Zone is the zone dates are shown in; nil means UTC.
	Zone *time.Location
}

// Line is one entry as a person reads it.
type Line struct {
	// At is the entry's time in RFC 3339, with its zone's offset.
	At      string `json:"at"`
	Run     string `json:"run"`
	Actor   string `json:"actor"`
	Action  string `json:"action"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
	// Tokens are the Signon tokens the entry is about.
	Tokens []Token `json:"tokens,omitempty"`
	// SignonEventLog says where Signon recorded the same change.
	SignonEventLog string `json:"signon_event_log,omitempty"`
}

// Token is a Signon token by id and fingerprint (the first 16 hex digits
// of its SHA-256).
type Token struct {
	ID          int64  `json:"id"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

var (
	tokenID     = regexp.MustCompile(`\btoken (\d{1,18})\b`)
	fingerprint = regexp.MustCompile(`\bfingerprint ([0-9a-f]{8,64})\b`)
)

// Signon's EventLog events for the changes the bot makes; the Signon
// script writes them with user agent signon-token-bot and the trailing
// message "run <id> for Slack user <U>: token <n>".
var eventLogEvents = map[string]string{
	"issue":      "Access token generated",
	"revoke":     "Access token revoked",
	"revoke-new": "Access token revoked",
}

// Lines are the entries as people read them, oldest first.
func (t Trail) Lines() []Line {
	zone := t.Zone
	if zone == nil {
		zone = time.UTC
	}
	out := make([]Line, 0, len(t.Entries))
	for _, e := range t.Entries {
		l := Line{
			At: e.At.In(zone).Format(time.RFC3339), Run: e.RunID, Actor: e.Actor,
			Action: e.Action, Outcome: e.Outcome, Detail: e.Detail,
		}
		run := t.Runs[e.RunID]
		for _, m := range tokenID.FindAllStringSubmatch(e.Detail, -1) {
			id, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				continue
			}
			tok := Token{ID: id, Fingerprint: fingerprintOf(run, id)}
			if fp := fingerprint.FindStringSubmatch(e.Detail); fp != nil && tok.Fingerprint == "" {
				tok.Fingerprint = fp[1]
			}
			l.Tokens = append(l.Tokens, tok)
		}
		if ev, ok := eventLogEvents[e.Action]; ok && e.Outcome == "ok" && len(l.Tokens) == 1 {
			who := ""
			if run != nil {
				who = fmt.Sprintf(" of %s for %s in %s", run.Key.APIUser, run.Key.Application, run.Key.Environment)
			}
			l.SignonEventLog = fmt.Sprintf("%q%s, user agent signon-token-bot, message \"run %s for Slack user %s: token %d\"",
				ev, who, e.RunID, e.Actor, l.Tokens[0].ID)
		}
		out = append(out, l)
	}
	return out
}

// fingerprintOf finds a token's fingerprint in its run's record.
func fingerprintOf(run *flows.Run, id int64) string {
	if run == nil {
		return ""
	}
	toks := append(append([]flows.Token(nil), run.Tokens...), run.OldTokens...)
	if run.NewToken != nil {
		toks = append(toks, *run.NewToken)
	}
	for _, tok := range toks {
		if tok.ID == id {
			return string(tok.Fingerprint)
		}
	}
	return ""
}

// Kept says what the trail keeps, so that a reader knows what is missing.
func (t Trail) Kept() string {
	return fmt.Sprintf("A run's trail lives as long as its run, and %s after it ends. The all-runs stream (what --since reads) holds about the last %d entries of every run, older ones trimmed, and goes %s after its last entry.",
		days(t.Retention), t.MaxLen, days(t.Retention))
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if n := int(d / (24 * time.Hour)); n == 1 {
			return "1 day"
		} else {
			return fmt.Sprintf("%d days", n)
		}
	}
	return d.String()
}

// WriteTable writes the trail as a table for a terminal or a code block.
func (t Trail) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Audit trail, %s: %d entries.\n%s\n\n", t.Scope, len(t.Entries), t.Kept())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tRUN\tACTOR\tACTION\tOUTCOME\tTOKENS\tDETAIL")
	var logs []string
	for _, l := range t.Lines() {
		toks := make([]string, 0, len(l.Tokens))
		for _, tok := range l.Tokens {
			s := strconv.FormatInt(tok.ID, 10)
			if tok.Fingerprint != "" {
				s += " (" + tok.Fingerprint + ")"
			}
			toks = append(toks, s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.At, l.Run, l.Actor, l.Action, l.Outcome, dash(strings.Join(toks, ", ")), dash(oneLine(l.Detail)))
		if l.SignonEventLog != "" {
			logs = append(logs, l.At+" "+l.Action+": "+l.SignonEventLog)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("audit table: %w", err)
	}
	if len(logs) > 0 {
		fmt.Fprintf(&b, "\nSignon's EventLog has each change too (the user's event log in Signon's admin):\n%s\n", strings.Join(logs, "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the trail as JSON lines: one header line with the
// scope and what is kept, then one line per entry.
func (t Trail) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(map[string]any{
		"scope": t.Scope, "entries": len(t.Entries), "retention": t.Retention.String(),
		"all_runs_stream_cap": t.MaxLen, "kept": t.Kept(),
	}); err != nil {
		return fmt.Errorf("audit json: %w", err)
	}
	for _, l := range t.Lines() {
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("audit json: %w", err)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
