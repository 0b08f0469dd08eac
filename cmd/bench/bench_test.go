package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestBenchSmall runs every benchmark at a small size and checks that
// the last line holds every figure, each consistent with its baseline
// and the sizes asked for.
func TestBenchSmall(t *testing.T) {
	if os.Getenv(redistest.EnvServer) == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; run `make test`", redistest.EnvServer)
		}
		t.Skipf("%s is not set; run `make test`", redistest.EnvServer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-envelopes", "30", "-ack-runs", "2", "-storm-tokens", "20", "-storm-runs", "2", "-parked", "3",
		"-resume", "40", "-resume-running", "2", "-sync-runs", "6", "-sync-time", "300ms"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("the last line is not a JSON object: %v\n%s", err, stdout.String())
	}
	num := func(key string) float64 {
		t.Helper()
		v, ok := got[key].(float64)
		if !ok {
			t.Fatalf("%s is %v, want a number\n%s", key, got[key], stdout.String())
		}
		return v
	}
	for _, k := range figureKeys {
		num(k)
	}
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"every envelope acked with a latency", num("ack_p99_ms") > 0 && num("ack_p99_bare_ms") > 0 && num("ack_p50_ms") <= num("ack_p99_ms")},
		{"the ack benchmark run twice, each run's ratio kept", ackRuns(got) == 2},
		{"the rotation's calls at least one per message left", num("slack_calls_per_rotation") >= num("slack_calls_floor") && num("slack_calls_floor") > 0},
		{"the storm no faster than the limits allow", num("storm_ideal_s") > 0 && num("storm_ideal_s") <= num("storm_actual_s") && num("storm_efficiency") <= 1},
		{"both storm runs done, by one or two sync Jobs", num("storm_runs_done") == 2 && num("storm_jobs") >= 1 && num("storm_jobs") <= 2},
		{"the twenty tokens of Rotate all done, by one Job", num("rotate_all_runs_done") == 20 && num("rotate_all_jobs") == 1 && num("rotate_all_calls_per_token") > 0},
		{"the six runs synced done, by fewer Jobs than runs, one at a time", num("sync_jobs_runs_done") == 6 && num("sync_jobs_200_runs") >= 1 && num("sync_jobs_200_runs") < 6 && num("sync_jobs_max_running") == 1},
		{"the memory of the bot, idle and with runs parked, and of the bare client", num("rss_idle_mb") > 0 && num("rss_1000_parked_mb") > 0 && num("rss_idle_bare_mb") > 0},
		{"the interrupted runs resumed through Slack", num("resume_slack_calls") > 0 && num("resume_10000_s") > num("resume_bare_read_s")},
		{"the bare step taking state's four round trips", num("redis_roundtrips_per_step_bare") == 4 && num("redis_roundtrips_per_step") >= 1},
		{"the sweep of 2,000 tokens taking one Signon call and one digest", num("sweep_signon_calls") == 1 && num("sweep_slack_calls") == 1 && num("sweep_2000_ms") > 0 && num("sweep_estate_ms") > 0},
	} {
		if !c.ok {
			t.Errorf("want %s:\n%s", c.what, stdout.String())
		}
	}
	if got["violations"] != 0.0 {
		t.Errorf("the fake saw %v calls a real Slack would reject", got["violations"])
	}
}

// TestIdeal checks the least time the limits allow: each bucket starts
// full and refills at its rate; per-channel buckets are apart; 429s do
// not count; the slowest bucket decides.
func TestIdeal(t *testing.T) {
	limits := map[string]slacktest.Limit{
		"chat.update":      {PerMinute: 60, Burst: 5},
		"chat.postMessage": {PerMinute: 60, Burst: 3, PerChannel: true},
	}
	var calls []slacktest.Call
	add := func(method, channel string, status, n int) {
		for range n {
			calls = append(calls, slacktest.Call{Method: method, Args: map[string]string{"channel": channel}, Status: status})
		}
	}
	add("chat.update", "C1", 200, 8)
	add("chat.update", "C1", 429, 50)
	add("chat.postMessage", "C1", 200, 10)
	add("chat.postMessage", "C2", 200, 10)
	add("users.info", "", 200, 1000)
	got, bucket, all := ideal(calls, limits)
	if got != 7*time.Second || bucket != "chat.postMessage in C1" {
		t.Errorf("ideal %v set by %q, want 7s by chat.postMessage in C1 (10 calls, 3 at once, then 1 a second)", got, bucket)
	}
	if len(all) != 3 || all[2].Bucket != "chat.update" || all[2].Ideal != 3*time.Second {
		t.Errorf("buckets %+v, want chat.update last at 3s (8 calls, 5 at once)", all)
	}
}

func TestQuantile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 200; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]float64{.5: 100, .99: 198, 1: 200} {
		if got := quantile(lat, q); got != want {
			t.Errorf("quantile %v = %v ms, want %v", q, got, want)
		}
	}
}

// ackRuns is how many ack runs the report's details list a ratio for.
func ackRuns(got map[string]any) int {
	ack, _ := got["ack"].(map[string]any)
	ratios, _ := ack["p99_vs_bare_runs"].([]any)
	if n, _ := ack["runs"].(float64); int(n) != len(ratios) {
		return -1
	}
	return len(ratios)
}
