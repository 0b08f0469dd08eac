package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestShortRun runs what CI runs, `reliability -short`, and fails unless
// every figure that must be 0 is, and the faults were really injected.
func TestShortRun(t *testing.T) {
	if os.Getenv(redistest.EnvServer) == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; run `make test`", redistest.EnvServer)
		}
		t.Skipf("%s is not set; run `make test`", redistest.EnvServer)
	}
	if testing.Short() {
		t.Skip("the reliability run takes minutes; -short leaves it out")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"-short"}, &out, t.Output())
	t.Logf("report:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("the last line is not the JSON summary: %v", err)
	}
	for _, k := range []string{"double_issues", "early_revokes", "stuck_runs", "lost_messages", "tokens_leaked", "fuzz_panics", "stuck_batches",
		"synced_revokes", "failed_pair_revokes", "cleanup_issues", "stuck_cleanups", "superseded_left"} {
		if v, ok := got[k].(float64); !ok || v != 0 {
			t.Errorf("%s = %v, want 0", k, got[k])
		}
	}
	// A run that injected nothing would pass the checks above.
	for k, least := range map[string]float64{
		"crash_kills": 11, "runs_completed": 30, "batch_runs": 20, "batch_kills": 1, "batch_sync_jobs": 1, "redis_outages": 2, "replica_runs": 3, "replica_kills": 1,
		"cleanup_kills": 4, "superseded_revoked": 12,
		"known_tokens": 50, "scanned_bytes": 100_000, "fuzz_targets": 1, "faults_injected": 15,
	} {
		if v, _ := got[k].(float64); v < least {
			t.Errorf("%s = %v, want at least %v", k, got[k], least)
		}
	}
	// A batch's runs are synced together: one Job per batch (a crash as
	// the batch starts can split it, into a second batch or a run alone).
	jobs, _ := got["batch_sync_jobs"].(float64)
	batches, _ := got["batches"].(float64)
	alone, _ := got["batch_runs_alone"].(float64)
	next, _ := got["batch_next_jobs"].(float64)
	if jobs > batches+alone+next {
		t.Errorf("batch_sync_jobs = %v for %v batches, %v runs alone and %v Jobs after a shared one, want no more Jobs than those", jobs, batches, alone, next)
	}
	envelopes, _ := got["envelopes_per_replica"].([]any)
	if len(envelopes) != 2 || envelopes[0].(float64) == 0 || envelopes[1].(float64) == 0 {
		t.Errorf("envelopes per replica %v: want both replicas to have handled some", envelopes)
	}
}

func TestScannerFindsTokensWhereverTheyAre(t *testing.T) {
	tok := token.Generate()
	other := token.Generate().Reveal()
	s := newScanner()
	s.know(tok)
	plain := tok.Reveal()
	for _, tc := range []struct {
		name, text string
		want       int
	}{
		{"alone", plain, 1},
		{"in a log line", `{"level":"INFO","msg":"issued","token":"` + plain + `"}`, 1},
		{"glued to a longer identifier", "xoxb-" + plain + "_suffix", 1},
		{"in a URL", "https://example.com/?t=" + plain + "&x=1", 1},
		{"twice in one place counts once", plain + " " + plain, 1},
		{"all but its last character", plain[:tokenLen-1], 0},
		{"another token", other, 0},
		{"its fingerprint", string(tok.Fingerprint()), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.scan(tc.name, []byte(tc.text)); got != tc.want {
				t.Errorf("scan found %d, want %d", got, tc.want)
			}
		})
	}
	if w := s.where(); len(w) != 1 || !strings.Contains(w[0], string(tok.Fingerprint())) || strings.Contains(w[0], plain) {
		t.Errorf("where = %q: want one line naming the fingerprint, not the token", w)
	}
}

func TestScannerReadsAndDeletesRecords(t *testing.T) {
	dir := t.TempDir()
	tok := token.Generate()
	rec := filepath.Join(dir, "record")
	if err := os.WriteFile(rec, []byte(string(tok.Fingerprint())+" "+tok.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newScanner()
	if err := s.knowFile(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rec); !os.IsNotExist(err) {
		t.Errorf("the record of plaintexts is still there: %v", err)
	}
	if s.scan("x", []byte(tok.Reveal())) != 1 {
		t.Error("a recorded token was not found")
	}
	if err := os.WriteFile(rec, []byte("0000 "+tok.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.knowFile(rec); err == nil {
		t.Error("a record whose fingerprint does not match was read")
	}
}

func TestKillerFiresOnceAtTheNthPoint(t *testing.T) {
	var k killer
	var fired []string
	kill := func(p string) { fired = append(fired, p) }
	stop := k.count()
	k.arm(3, "", kill)
	for _, p := range []string{"a", "b", "c", "d"} {
		k.point(p)
	}
	if len(fired) != 1 || fired[0] != "c" {
		t.Fatalf("fired at %v, want once, at the third point", fired)
	}
	k.arm(2, "x", kill)
	for _, p := range []string{"x", "e", "f", "x", "x"} {
		k.point(p)
	}
	if len(fired) != 2 || fired[1] != "x" {
		t.Fatalf("fired at %v, want a second time at the second x", fired)
	}
	k.arm(1, "", kill)
	k.disarm()
	k.point("g")
	if len(fired) != 2 {
		t.Fatalf("a disarmed killer fired: %v", fired)
	}
	if c := stop(); c["a"] != 1 || c["x"] != 3 || len(c) != 8 {
		t.Errorf("counts %v, want every point counted", c)
	}
}

func TestReadTestJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	events := `{"Action":"run","Package":"github.com/alphagov/signon-token-bot/commands","Test":"TestA"}
# a build error the go command printed
{"Action":"pass","Package":"github.com/alphagov/signon-token-bot/commands","Test":"TestA"}
{"Action":"fail","Package":"github.com/alphagov/signon-token-bot/commands","Test":"TestB/sub"}
{"Action":"skip","Package":"github.com/alphagov/signon-token-bot/flows","Test":"TestC"}
{"Action":"fail","Package":"github.com/alphagov/signon-token-bot/commands"}
`
	if err := os.WriteFile(path, []byte(events), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := readTestJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	want := testResults{"./commands TestA": "pass", "./commands TestB/sub": "fail", "./flows TestC": "skip", "./commands": "fail"}
	if len(res) != len(want) {
		t.Fatalf("results %v, want %v", res, want)
	}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("%s: %q, want %q", k, res[k], v)
		}
	}
	if f := res.failed(); len(f) != 2 || f[0] != "./commands" {
		t.Errorf("failed = %v", f)
	}
}

func TestDemoScenarios(t *testing.T) {
	list := "alert          an alert, Rotate, sync, revoke\ngrouped        three tokens\n\nexternal       a hand-off\n"
	if got := strings.Join(demoScenarios(list), ","); got != "alert,grouped,external" {
		t.Errorf("scenarios %q", got)
	}
	if got := demoScenarios("demo: not yet built\n"); len(got) != 0 {
		t.Errorf("the placeholder's words were taken for scenarios: %q", got)
	}
}

func TestInjectedMentionsAreCountedOnlyWhenTheyPing(t *testing.T) {
	blocks, _ := json.Marshal(map[string]string{"blocks": `[{"text":"` + "\\u003c@" + injectedUser + "\\u003e" + `"}]`})
	if n := injectedMentions("call chat.postMessage  " + string(blocks)); n != 1 {
		t.Errorf("a mention inside JSON-encoded blocks counted %d, want 1", n)
	}
	if n := injectedMentions("message C1 1.1 Reliability Bot 1 @ {" + injectedUser + "} &lt;@" + injectedUser + "&gt; &lt;!channel&gt;"); n != 0 {
		t.Errorf("escaped mention syntax counted %d, want 0", n)
	}
}
