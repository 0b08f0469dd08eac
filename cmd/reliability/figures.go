package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// figures are what the run counted. The JSON names are the summary
// line's; the six at the end of the first group must be 0.
type figures struct {
	FaultsInjected int `json:"faults_injected"`
	FaultsSurvived int `json:"faults_survived"`
	CrashKills     int `json:"crash_kills"`
	RunsCompleted  int `json:"runs_completed"`
	DoubleIssues   int `json:"double_issues"`
	EarlyRevokes   int `json:"early_revokes"`
	StuckRuns      int `json:"stuck_runs"`
	LostMessages   int `json:"lost_messages"`
	TokensLeaked   int `json:"tokens_leaked"`
	// MentionsInjected counts mentions of the user every API user's name
	// names in mention syntax that reached Slack as mentions.
	MentionsInjected int `json:"mentions_injected"`
	FuzzPanics       int `json:"fuzz_panics"`

	// Crash injection.
	CrashRotations int            `json:"crash_rotations"`
	KillsByPoint   map[string]int `json:"kills_by_point"`
	// KillPoints is how many kill points a rotation without kills passed,
	// by how it started.
	KillPoints map[string]int `json:"kill_points_per_rotation"`
	// FailedRuns ended other than done, or broke a rule.
	FailedRuns int `json:"failed_runs"`
	// DuplicateEffects are sync Jobs or revokes done twice.
	DuplicateEffects int `json:"duplicate_effects"`
	// UnrecordedPosts are the bot's thread messages that no record
	// accounts for: a post made again because a crash lost its receipt,
	// or an offer whose record never learnt its message.
	UnrecordedPosts  int `json:"unrecorded_posts"`
	UnansweredAlerts int `json:"unanswered_alerts"`
	RepeatedPresses  int `json:"repeated_presses"`
	Pauses           int `json:"pauses"`
	UnexpectedExits  int `json:"unexpected_exits"`
	// BatchRuns are the rotations in the crash part's batch, Batches the
	// batches they ran in (a crash as it starts leaves some tokens to the
	// command typed again, and so to a second batch), BatchRunsAlone
	// those the command typed again started on their own (it named one
	// token), BatchKills the SIGKILLs through it (counted in CrashKills
	// too), BatchJobs the sync Jobs they made, BatchNextJobs those a
	// member made after a Job it was handed did not serve it (one that ran
	// from before its token, or started in its second and missed it),
	// StuckBatches the batches that did not end.
	BatchRuns      int `json:"batch_runs"`
	Batches        int `json:"batches"`
	BatchRunsAlone int `json:"batch_runs_alone"`
	BatchNextJobs  int `json:"batch_next_jobs"`
	BatchKills     int `json:"batch_kills"`
	BatchJobs      int `json:"batch_sync_jobs"`
	StuckBatches   int `json:"stuck_batches"`
	BotStarts      int `json:"bot_starts"`

	// Redis outage.
	RedisOutages int `json:"redis_outages"`

	// Two replicas.
	ReplicaRuns     int   `json:"replica_runs"`
	DuplicateClicks int   `json:"duplicate_clicks"`
	ReplicaKills    int   `json:"replica_kills"`
	EnvelopesByBot  []int `json:"envelopes_per_replica"`

	// Kills during a daily sweep: Sweeps tried (one "day" each), the
	// SIGKILLs through them, the digests posted, the days with none, the
	// digests beyond one a day (a kill after the post and before the day
	// is recorded posts again: at least once, as documented), and Signon
	// writes the sweeps made.
	Sweeps            int `json:"sweeps"`
	SweepKills        int `json:"sweep_kills"`
	Digests           int `json:"digests"`
	MissingDigests    int `json:"missing_digests"`
	DuplicateDigests  int `json:"duplicate_digests"`
	SweepSignonWrites int `json:"sweep_signon_writes"`

	// Kills during a superseded clean-up: the days (one clean-up each),
	// the SIGKILLs through them, the days whose kill point never came,
	// the superseded tokens revoked, and what must not happen: a verified
	// pair's superseded token not revoked exactly once, a synced
	// token revoked, a token of a pair that failed verification revoked,
	// a token issued, a clean-up run or batch that did not end.
	CleanupDays         int `json:"cleanup_days"`
	CleanupKills        int `json:"cleanup_kills"`
	CleanupPointsMissed int `json:"cleanup_points_missed"`
	SupersededRevoked   int `json:"superseded_revoked"`
	SupersededLeft      int `json:"superseded_left"`
	SyncedRevokes       int `json:"synced_revokes"`
	FailedPairRevokes   int `json:"failed_pair_revokes"`
	CleanupIssues       int `json:"cleanup_issues"`
	StuckCleanups       int `json:"stuck_cleanups"`

	// Leak scan.
	ScannedBytes       int64 `json:"scanned_bytes"`
	ScannedSources     int   `json:"scanned_sources"`
	KnownTokens        int   `json:"known_tokens"`
	Reveals            int   `json:"reveals"`
	MisdirectedReveals int   `json:"misdirected_reveals"`
	RevealsUnseen      int   `json:"reveals_to_closed_views"`
	RepeatRevokes      int   `json:"repeat_revoke_attempts"`
	SlackViolations    int   `json:"slack_violations"`
	E2EFailures        int   `json:"e2e_failures"`
	DemoScenarios      int   `json:"demo_scenarios"`
	DemoFailures       int   `json:"demo_failures"`

	// Fuzzing and the in-process fault tests (docs/reliability-faults.json).
	FuzzTargets int `json:"fuzz_targets"`
	// FuzzCoordinatorRaces are fuzz runs Go's own coordinator cut short
	// with no failing input (go.dev/issue/75804): not the bot's.
	FuzzCoordinatorRaces int `json:"fuzz_coordinator_races"`
	InProcessFaults      int `json:"inprocess_faults"`
	InProcessSurvived    int `json:"inprocess_faults_survived"`
	InProcessFaultTest   int `json:"inprocess_fault_tests"`

	Seed    int64          `json:"seed"`
	Seconds int            `json:"seconds"`
	Phases  map[string]int `json:"phase_seconds"`

	// findings are lines for the report: what broke and where.
	findings []string
}

// mustBeZero are the figures a healthy bot keeps at 0.
func (f *figures) mustBeZero() map[string]int {
	return map[string]int{
		"double_issues": f.DoubleIssues, "early_revokes": f.EarlyRevokes, "stuck_runs": f.StuckRuns,
		"lost_messages": f.LostMessages, "tokens_leaked": f.TokensLeaked, "fuzz_panics": f.FuzzPanics,
		"mentions_injected": f.MentionsInjected, "stuck_batches": f.StuckBatches,
		"missing_digests": f.MissingDigests, "sweep_signon_writes": f.SweepSignonWrites,
		"synced_revokes": f.SyncedRevokes, "failed_pair_revokes": f.FailedPairRevokes, "cleanup_issues": f.CleanupIssues,
		"stuck_cleanups": f.StuckCleanups, "superseded_left": f.SupersededLeft,
	}
}

// nonZero names the must-be-zero figures that are not.
func (f *figures) nonZero() []string {
	var out []string
	for k, v := range f.mustBeZero() {
		if v != 0 {
			out = append(out, fmt.Sprintf("%s=%d", k, v))
		}
	}
	slices.Sort(out)
	return out
}

func (f *figures) phaseTime(name string, d time.Duration) {
	if f.Phases == nil {
		f.Phases = map[string]int{}
	}
	f.Phases[name] = int(d.Round(time.Second).Seconds())
}

func (f *figures) finding(format string, args ...any) {
	f.findings = append(f.findings, fmt.Sprintf(format, args...))
}

// report is the table, the findings, and the JSON line last.
func (f *figures) report(o options) string {
	var b strings.Builder
	mode := "full"
	if o.short {
		mode = "short"
	}
	fmt.Fprintf(&b, "\nReliability run (%s, seed %d, %ds)\n\n", mode, f.Seed, f.Seconds)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(part, figure string, v any, want string) {
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", part, figure, v, want)
	}
	fmt.Fprintln(w, "part\tfigure\tvalue\twant")
	row("crash", "rotations", f.CrashRotations, "")
	row("crash", "SIGKILLs", f.CrashKills, fmt.Sprintf("%d + batch", o.kills))
	for _, k := range slices.Sorted(maps.Keys(f.KillsByPoint)) {
		row("crash", "  killed "+k, f.KillsByPoint[k], "")
	}
	for _, k := range slices.Sorted(maps.Keys(f.KillPoints)) {
		row("crash", "kill points per "+k+" rotation", f.KillPoints[k], "")
	}
	row("crash", "bot starts", f.BotStarts, "")
	row("crash", "presses repeated (click lost)", f.RepeatedPresses, "")
	row("crash", "alerts left unanswered", f.UnansweredAlerts, "")
	row("crash", "runs paused and retried", f.Pauses, "")
	row("crash", "bot exits not caused by the harness", f.UnexpectedExits, "0")
	row("crash", "rotations in a batch", f.BatchRuns, fmt.Sprint(batchSize))
	row("crash", "  batches they ran in (a crash can split one)", f.Batches, "1")
	row("crash", "  SIGKILLs through the batch", f.BatchKills, "")
	row("crash", "  runs started again alone", f.BatchRunsAlone, "")
	row("crash", "  Jobs after a shared one did not serve", f.BatchNextJobs, "")
	row("crash", "  sync Jobs for the batch", f.BatchJobs, "<= batches + runs alone + those")
	row("crash", "  batches stuck", f.StuckBatches, "0")
	row("outage", "Redis outages survived", f.RedisOutages, "3")
	row("replicas", "runs on two replicas", f.ReplicaRuns, "")
	row("replicas", "clicks delivered twice", f.DuplicateClicks, "")
	row("replicas", "replica SIGKILLs", f.ReplicaKills, "")
	row("replicas", "envelopes handled per replica", fmt.Sprint(f.EnvelopesByBot), "all > 0")
	row("sweep", "days swept", f.Sweeps, "")
	row("sweep", "SIGKILLs during a sweep", f.SweepKills, "1 per day")
	row("sweep", "digests posted", f.Digests, "1 per day")
	row("sweep", "days without a digest", f.MissingDigests, "0")
	row("sweep", "digests beyond one a day", f.DuplicateDigests, "at least once (documented)")
	row("sweep", "Signon writes by a sweep", f.SweepSignonWrites, "0")
	row("cleanup", "days with a clean-up", f.CleanupDays, "")
	row("cleanup", "SIGKILLs during a clean-up", f.CleanupKills, "1 per day")
	row("cleanup", "days whose kill point never came", f.CleanupPointsMissed, "0")
	row("cleanup", "superseded tokens revoked", f.SupersededRevoked, "3 per day")
	row("cleanup", "superseded tokens of verified pairs not revoked once", f.SupersededLeft, "0")
	row("cleanup", "synced tokens revoked", f.SyncedRevokes, "0")
	row("cleanup", "tokens revoked of a pair that failed verification", f.FailedPairRevokes, "0")
	row("cleanup", "tokens issued by a clean-up", f.CleanupIssues, "0")
	row("cleanup", "clean-ups stuck", f.StuckCleanups, "0")
	row("all", "runs completed", f.RunsCompleted, "")
	row("all", "runs failed or broke a rule", f.FailedRuns, "0")
	row("all", "new tokens beyond one per run", f.DoubleIssues, "0")
	row("all", "old tokens revoked before verification", f.EarlyRevokes, "0")
	row("all", "runs stuck", f.StuckRuns, "0")
	row("all", "posts missing from threads", f.LostMessages, "0")
	row("all", "sync Jobs or revokes done twice", f.DuplicateEffects, "0")
	row("all", "bot messages no record accounts for", f.UnrecordedPosts, "")
	row("all", "revokes Signon refused as done", f.RepeatRevokes, "")
	row("all", "calls a real Slack would reject", f.SlackViolations, "0")
	row("leaks", "known tokens", f.KnownTokens, "")
	row("leaks", "sources scanned", f.ScannedSources, "")
	row("leaks", "bytes scanned", f.ScannedBytes, "")
	row("leaks", "reveal modals (scanned apart)", f.Reveals, "")
	row("leaks", "reveals not to the requester", f.MisdirectedReveals, "0")
	row("leaks", "reveals to a view closed meanwhile", f.RevealsUnseen, "")
	row("leaks", "tokens found", f.TokensLeaked, "0")
	row("leaks", "injected mentions that reached Slack", f.MentionsInjected, "0")
	row("leaks", "e2e tests failed", f.E2EFailures, "")
	row("leaks", "demo scenarios run (failed)", fmt.Sprintf("%d (%d)", f.DemoScenarios, f.DemoFailures), "")
	row("fuzz", "targets fuzzed", f.FuzzTargets, "")
	row("fuzz", "targets that failed", f.FuzzPanics, "0")
	row("fuzz", "runs cut short by Go (issue 75804)", f.FuzzCoordinatorRaces, "")
	row("faults", "in-process fault tests", f.InProcessFaultTest, "")
	row("faults", "in-process faults (survived)", fmt.Sprintf("%d (%d)", f.InProcessFaults, f.InProcessSurvived), "")
	row("total", "faults injected", f.FaultsInjected, "")
	row("total", "faults survived", f.FaultsSurvived, "")
	_ = w.Flush()
	if len(f.findings) > 0 {
		fmt.Fprintln(&b, "\nFindings:")
		for _, l := range f.findings {
			fmt.Fprintln(&b, "- "+l)
		}
	}
	line, _ := json.Marshal(f)
	fmt.Fprintf(&b, "\n%s\n", line)
	return b.String()
}

// count changes the figures under the harness's lock.
func (h *harness) count(f func(*figures)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.fig)
}

func (h *harness) botStarts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fig.BotStarts
}

func (h *harness) reveals() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fig.Reveals
}

func (h *harness) recordKill(point string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fig.CrashKills++
	if h.fig.KillsByPoint == nil {
		h.fig.KillsByPoint = map[string]int{}
	}
	h.fig.KillsByPoint[point]++
}

// keep remembers a delivery, so that the leak scan reads the bot's
// answers to it.
func (h *harness) keep(d *slacktest.Delivery) {
	if d == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries = append(h.deliveries, d)
}

// newTS is a fresh ts for a message the harness posts. The fake stamps
// the bot's messages with the current second; the harness's are stamped
// with the second it started, an hour back, so that the two never meet.
func (h *harness) newTS() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextTS++
	return fmt.Sprintf("%d.%06d", h.tsBase, h.nextTS)
}

// intn is a random number in [0, n), safe from any goroutine.
func (h *harness) intn(n int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rng.IntN(n)
}
