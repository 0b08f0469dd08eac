package audit_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/audit"
	"github.com/alphagov/signon-token-bot/flows"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func trail(t *testing.T) audit.Trail {
	t.Helper()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skipf("no zone data: %v", err)
	}
	t0 := time.Date(2026, 7, 1, 9, 30, 0, 0, time.UTC)
	run := &flows.Run{
		ID:        "r-abcd1234",
		Key:       flows.Key{Environment: "production", APIUser: "content-tagger@alphagov.co.uk", Application: "publishing-api"},
		OldTokens: []flows.Token{{ID: 41, Fingerprint: "0123456789abcdef"}},
		NewToken:  &flows.Token{ID: 42, Fingerprint: "fedcba9876543210"},
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	return audit.Trail{
		Scope: "run r-abcd1234",
		Runs:  map[string]*flows.Run{run.ID: run},
		Entries: []flows.AuditEntry{
			{RunID: run.ID, At: at(0), Actor: "U0ALICE", Action: "start", Outcome: "ok", Detail: "rotate"},
			{RunID: run.ID, At: at(1), Actor: "U0ALICE", Action: "issue", Outcome: "ok", Detail: "token 42 fingerprint fedcba9876543210"},
			{RunID: run.ID, At: at(2), Actor: "U0MALLORY", Action: "approve", Outcome: "denied", Detail: "you are not among the approvers"},
			{RunID: run.ID, At: at(3), Actor: "bot", Action: "sync", Outcome: "ok", Detail: "sync-token-secrets-x1"},
			{RunID: run.ID, At: at(9), Actor: "U0BOB", Action: "revoke", Outcome: "ok", Detail: "token 41"},
			{RunID: run.ID, At: at(10), Actor: "bot", Action: "end", Outcome: "succeeded"},
		},
		Retention: 30 * 24 * time.Hour,
		MaxLen:    100_000,
		Zone:      london,
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./audit -update rewrites it):\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestTrailAsATable(t *testing.T) {
	var b bytes.Buffer
	if err := trail(t).WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "trail.txt", b.Bytes())
}

func TestTrailAsJSONLines(t *testing.T) {
	var b bytes.Buffer
	if err := trail(t).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "trail.jsonl", b.Bytes())
}
