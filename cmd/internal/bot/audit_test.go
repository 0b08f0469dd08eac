package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestAuditCommandReadsTheTrailFromRedis writes a run's trail as the
// engine does, into a real redis-server, and reads it with `bot audit`.
func TestAuditCommandReadsTheTrailFromRedis(t *testing.T) {
	redis := redistest.New(t)
	ctx := context.Background()
	store, err := state.New(redis.Client(), state.Options{Prefix: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	run := &flows.Run{
		ID: "r-audit1", Key: flows.Key{Environment: flows.Production, APIUser: "content-tagger@alphagov.co.uk", Application: "publishing-api"},
		Mode: flows.ModeRotate, StartedBy: "U0ALICE", CreatedAt: t0, UpdatedAt: t0, Phase: flows.PhaseRunning,
		OldTokens: []flows.Token{{ID: 41, Fingerprint: "0123456789abcdef"}},
		NewToken:  &flows.Token{ID: 42, Fingerprint: "fedcba9876543210"},
	}
	if err := store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	for i, e := range []flows.AuditEntry{
		{Actor: "U0ALICE", Action: "start", Outcome: "ok", Detail: "rotate"},
		{Actor: "U0ALICE", Action: "issue", Outcome: "ok", Detail: "token 42 fingerprint fedcba9876543210"},
		{Actor: "U0BOB", Action: "revoke", Outcome: "ok", Detail: "token 41"},
	} {
		e.RunID, e.At = run.ID, t0.Add(time.Duration(i)*time.Minute)
		if err := store.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"REDIS_URL": "redis://" + redis.Addr(), "STATE_PREFIX": "aud"}
	audit := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := Program{}.Run(ctx, append([]string{"audit"}, args...), getenv(env), strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}

	out, err := audit("-zone", "Europe/London", "r-audit1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Audit trail, run r-audit1: 3 entries.",
		"holds about the last 100000 entries", "30 days after it ends",
		"2026-11-30T09:01:00Z  r-audit1  U0ALICE  issue", "42 (fedcba9876543210)", "41 (0123456789abcdef)",
		`"Access token revoked" of content-tagger@alphagov.co.uk for publishing-api in production, user agent signon-token-bot, message "run r-audit1 for Slack user U0BOB: token 41"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	out, err = audit("-format", "json", "--since", "2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(strings.TrimSpace(out), "\n")
	if len(ls) != 4 {
		t.Fatalf("%d JSON lines, want a header and 3 entries:\n%s", len(ls), out)
	}
	var head struct {
		Cap  int64  `json:"all_runs_stream_cap"`
		Kept string `json:"kept"`
	}
	var entry struct {
		At     string `json:"at"`
		Tokens []struct {
			ID          int64  `json:"id"`
			Fingerprint string `json:"fingerprint"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(ls[0]), &head); err != nil || head.Cap != 100000 || head.Kept == "" {
		t.Errorf("header %s: %v", ls[0], err)
	}
	if err := json.Unmarshal([]byte(ls[2]), &entry); err != nil || entry.At != "2026-11-30T09:01:00Z" ||
		len(entry.Tokens) != 1 || entry.Tokens[0].ID != 42 || entry.Tokens[0].Fingerprint != "fedcba9876543210" {
		t.Errorf("entry %s: %v", ls[2], err)
	}
	if out, err := audit("--since", "2026-12-01"); err != nil || !strings.Contains(out, ": 0 entries.") {
		t.Errorf("since after the last entry: %v\n%s", err, out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"r-nosuch"}, "no trail for run r-nosuch: no such run, or it ended more than 720h0m0s ago"},
		{[]string{"--since", "2026-13-01"}, `--since "2026-13-01" is not a date like 2026-12-01`},
		{[]string{"not a run"}, "give one run id like r-abcd1234, or --since <date>"},
		{[]string{"-format", "xml", "r-audit1"}, "-format is table or json"},
	} {
		if _, err := audit(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("audit %v = %v, want %q", c.args, err, c.want)
		}
	}
}
