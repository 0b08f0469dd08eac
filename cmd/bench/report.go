package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alphagov/signon-token-bot/state/redistest"
)

// target is a figure's goal: Op is "<=", "<", ">=" or "==".
type target struct {
	Op    string
	Value float64
}

func (t target) met(v float64) bool {
	switch t.Op {
	case "<=":
		return v <= t.Value
	case "<":
		return v < t.Value
	case ">=":
		return v >= t.Value
	default:
		return v == t.Value
	}
}

// targets are the issue's, by figure.
var targets = map[string]target{
	"ack_p99_ms":                 {"<", 10},
	"ack_p99_vs_bare":            {"<=", 1.25},
	"ack_cpu_vs_bare":            {"<=", 1.5},
	"slack_calls_per_rotation":   {"<=", 8},
	"storm_efficiency":           {">=", 0.8},
	"storm_lost_messages":        {"==", 0},
	"storm_429_failures":         {"==", 0},
	"storm_jobs":                 {"<=", 10},
	"rotate_all_200_s":           {"<", 180},
	"rotate_all_calls_per_token": {"<=", 2},
	"rotate_all_jobs":            {"==", 1},
	"sync_jobs_200_runs":         {"<=", 10},
	"rss_idle_mb":                {"<=", 20},
	"rss_1000_parked_mb":         {"<=", 40},
	"resume_10000_s":             {"<", 2},
	"resume_vs_bare":             {"<=", 2},
	"restart_resume_s":           {"<", 2},
	"sweep_signon_calls":         {"<=", 1},
	"sweep_slack_calls":          {"<=", 5},
}

// row is one line of the table: a figure, and the baseline it is
// measured against.
type row struct {
	Bench, Key string
	Value      float64
	Unit       string
	// BaselineKey names the baseline's own figure; Ratio is Value over it.
	BaselineKey   string
	Baseline      float64
	BaselineLabel string
	Ratio         bool
}

// report gathers the figures: the table's rows in order, and the JSON
// object with every figure (null when not measured), the details, the
// machine and the targets missed.
type report struct {
	rows       []row
	figures    map[string]any
	details    map[string]any
	errs       []string
	missed     []string
	Violations []string
}

// figureKeys are every figure the JSON line carries.
var figureKeys = []string{
	"ack_p50_ms", "ack_p99_ms", "ack_p50_bare_ms", "ack_p99_bare_ms", "ack_p99_vs_bare",
	"ack_cpu_us", "ack_cpu_bare_us", "ack_cpu_vs_bare", "ack_rate_per_s", "ack_shed", "ack_rss_peak_mb", "ack_rss_peak_bare_mb",
	"slack_calls_per_rotation", "slack_calls_floor", "slack_calls_vs_floor", "response_url_posts_per_rotation",
	"storm_efficiency", "storm_ideal_s", "storm_actual_s", "storm_lost_messages", "storm_stale_messages",
	"storm_429_failures", "storm_429_served", "storm_runs_done", "storm_commands_refused", "storm_paused_runs", "storm_jobs",
	"rotate_all_200_s", "rotate_all_calls_per_token", "rotate_all_jobs", "rotate_all_runs_done", "rotate_all_429_served",
	"sync_jobs_200_runs", "sync_jobs_max_running", "sync_jobs_runs_done",
	"rss_idle_mb", "rss_idle_bare_mb", "rss_idle_vs_bare", "rss_1000_parked_mb", "rss_parked_vs_idle",
	"resume_10000_s", "resume_bare_read_s", "resume_vs_bare", "resume_connected_s", "resume_slack_calls",
	"restart_resume_s", "restart_lease_s",
	"redis_roundtrips_per_step", "redis_roundtrips_per_step_bare", "redis_roundtrips_vs_bare",
	"sweep_2000_ms", "sweep_estate_ms", "sweep_vs_estate", "sweep_signon_calls", "sweep_slack_calls",
}

func newReport(sz sizes) *report {
	r := &report{figures: map[string]any{}, details: map[string]any{"sizes": sz, "machine": machine()}}
	for _, k := range figureKeys {
		r.figures[k] = nil
	}
	return r
}

// add records a figure.
func (r *report) add(bench, key string, v float64, unit string) {
	r.figures[key] = round(v)
	r.rows = append(r.rows, row{Bench: bench, Key: key, Value: v, Unit: unit})
}

// against records a figure with its baseline, and their ratio under
// ratioKey ("" for none).
func (r *report) against(bench, key string, v float64, unit, baselineKey string, base float64, label, ratioKey string) {
	r.figures[key] = round(v)
	r.figures[baselineKey] = round(base)
	r.rows = append(r.rows, row{Bench: bench, Key: key, Value: v, Unit: unit, BaselineKey: baselineKey, Baseline: base, BaselineLabel: label, Ratio: ratioKey != ""})
	if ratioKey != "" && base > 0 {
		r.figures[ratioKey] = round(v / base)
	}
}

// p99Ratio is a run's ack p99 over the bare client's.
func p99Ratio(a ackResult) float64 {
	bare := quantile(sorted(a.Bare, -1), .99)
	if bare == 0 {
		return math.Inf(1)
	}
	return round(quantile(sorted(a.Bot, -1), .99) / bare)
}

func (r *report) failed(name string, err error) {
	r.errs = append(r.errs, name+": "+err.Error())
}

// ack reports the run whose p99 ratio is the median of runs, and every
// run's ratio in the details. One run's p99 is its hundred slowest acks
// in 10,000: a pause of either process decides it, and the same build's
// ratio ranged from 0.94x to 2.15x over eight runs at a load of 2. The
// median of several runs, each bot and bare client started afresh, is
// what two builds can be compared on.
func (r *report) ack(runs []ackResult) {
	runs = slices.DeleteFunc(slices.Clone(runs), func(a ackResult) bool { return len(a.Bot) == 0 || len(a.Bare) == 0 })
	if len(runs) == 0 {
		return
	}
	ratios := make([]float64, len(runs))
	for i, a := range runs {
		ratios[i] = p99Ratio(a)
	}
	median := slices.Sorted(slices.Values(ratios))[(len(ratios)-1)/2]
	a := runs[slices.Index(ratios, median)]
	bot, bare := sorted(a.Bot, -1), sorted(a.Bare, -1)
	r.against("ack", "ack_p50_ms", quantile(bot, .5), "ms", "ack_p50_bare_ms", quantile(bare, .5), "bare slack-go client, same schedule", "")
	r.against("ack", "ack_p99_ms", quantile(bot, .99), "ms", "ack_p99_bare_ms", quantile(bare, .99), "bare slack-go client, same schedule", "ack_p99_vs_bare")
	perEnvelope := func(d time.Duration) float64 { return round(float64(d.Microseconds()) / float64(len(a.Bot))) }
	// What an envelope costs is the CPU over the run less what each
	// process spends over that time with none (its tickers, and the
	// bench's scrapes of the bot's /metrics that pace the run).
	botCPU, bareCPU := max(a.BotCPU-a.BotIdle, 0), max(a.BareCPU-a.BareIdle, 0)
	detail := map[string]any{
		"max_ms":                        map[string]float64{"bot": round(quantile(bot, 1)), "bare": round(quantile(bare, 1))},
		"cpu_us_per_envelope":           map[string]float64{"bot": perEnvelope(botCPU), "bare": perEnvelope(bareCPU)},
		"cpu_us_per_envelope_with_idle": map[string]float64{"bot": perEnvelope(a.BotCPU), "bare": perEnvelope(a.BareCPU)},
	}
	for k, kind := range ackKinds {
		detail[kind+"_p99_ms"] = map[string]float64{"bot": round(quantile(sorted(a.Bot, k), .99)), "bare": round(quantile(sorted(a.Bare, k), .99))}
	}
	detail["runs"] = len(runs)
	detail["p99_vs_bare_runs"] = ratios
	r.details["ack"] = detail
	r.against("ack", "ack_cpu_us", perEnvelope(botCPU), "µs/envelope", "ack_cpu_bare_us", perEnvelope(bareCPU), "bare slack-go client's CPU", "ack_cpu_vs_bare")
	r.add("ack", "ack_cpu_with_idle_us", perEnvelope(a.BotCPU), "µs/envelope")
	r.add("ack", "ack_rate_per_s", a.Rate, "/s")
	r.add("ack", "ack_shed", a.Shed, "")
	r.against("ack", "ack_rss_peak_mb", mb(a.BotPeak), "MB", "ack_rss_peak_bare_mb", mb(a.BarePeak), "bare slack-go client's peak", "")
}

func (r *report) rotation(x rotationResult) {
	r.against("rotation", "slack_calls_per_rotation", float64(x.Total()), "calls", "slack_calls_floor", float64(x.Floor), "messages the thread ends with", "slack_calls_vs_floor")
	r.add("rotation", "response_url_posts_per_rotation", float64(x.ResponseURL), "posts")
	r.details["slack_calls_by_method"] = x.Calls
}

func (r *report) storm(s stormResult) {
	if s.Elapsed == 0 {
		return
	}
	var buckets []map[string]any
	for _, b := range s.Buckets[:min(len(s.Buckets), 6)] {
		buckets = append(buckets, map[string]any{"bucket": b.Bucket, "calls": b.Calls, "ideal_s": round(b.Ideal.Seconds())})
	}
	r.details["storm"] = map[string]any{
		"completed": s.Completed, "elapsed_s": round(s.Elapsed.Seconds()), "runs_ended": s.Ended, "runs": s.Runs,
		"buckets": buckets, "lost": s.LostWhat, "redelivered": s.Redelivered, "reclicks": s.Reclicks, "offer_pages": s.OfferPages,
	}
	if s.Completed {
		r.against("storm", "storm_actual_s", s.Elapsed.Seconds(), "s", "storm_ideal_s", s.Ideal.Seconds(), "least the limits allow ("+s.Limiting+")", "")
		r.figures["storm_efficiency"] = round(s.Efficiency())
		r.rows = append(r.rows, row{Bench: "storm", Key: "storm_efficiency", Value: s.Efficiency(), Unit: "ideal/actual"})
		r.add("storm", "storm_lost_messages", float64(s.Lost), "")
		r.add("storm", "storm_stale_messages", float64(s.Stale), "")
	} else {
		// Not over within the limit: no actual time, so no efficiency, and
		// the messages are not all due yet.
		r.missed = append(r.missed, fmt.Sprintf("storm_efficiency: the storm was not over after %s (%d of %d runs ended)", s.Elapsed.Round(time.Second), s.Ended, s.Runs))
		r.rows = append(r.rows, row{Bench: "storm", Key: "storm_runs_ended", Value: float64(s.Ended), Unit: fmt.Sprintf("of %d runs in %s", s.Runs, s.Elapsed.Round(time.Second))})
	}
	r.add("storm", "storm_429_failures", float64(s.Surfaced), "")
	r.add("storm", "storm_429_served", float64(s.Served429), "")
	r.add("storm", "storm_paused_runs", float64(s.Paused), "runs")
	r.add("storm", "storm_runs_done", float64(s.RunsDone), "runs")
	r.add("storm", "storm_commands_refused", float64(s.Refused), "")
	r.add("storm", "storm_jobs", float64(s.Jobs), fmt.Sprintf("sync Jobs for %d /rotate-token runs in one environment", s.Runs))
}

// rotateAll reports Rotate all beside the per-token storm: its figures
// are the issue's, whatever the storm's size (the sizes are in details).
func (r *report) rotateAll(x rotateAllResult) {
	if x.Elapsed == 0 {
		return
	}
	r.details["rotate_all"] = map[string]any{
		"completed": x.Completed, "tokens": x.Tokens, "runs_ended": x.Ended, "offer_pages": x.Pages,
		"paused": x.Paused, "calls_by_method": x.ByMethod,
	}
	if !x.Completed {
		r.missed = append(r.missed, fmt.Sprintf("rotate_all_200_s: the batch was not over after %s (%d of %d runs ended)", x.Elapsed.Round(time.Second), x.Ended, x.Tokens))
		r.rows = append(r.rows, row{Bench: "rotateall", Key: "rotate_all_runs_ended", Value: float64(x.Ended), Unit: fmt.Sprintf("of %d runs in %s", x.Tokens, x.Elapsed.Round(time.Second))})
	} else {
		r.add("rotateall", "rotate_all_200_s", x.Elapsed.Seconds(), "s")
	}
	r.add("rotateall", "rotate_all_calls_per_token", x.CallsPerToken(), fmt.Sprintf("Web API calls (%d for %d tokens)", x.Calls, x.Tokens))
	r.add("rotateall", "rotate_all_jobs", float64(x.Jobs), "sync Jobs")
	r.add("rotateall", "rotate_all_runs_done", float64(x.Done), "runs")
	r.add("rotateall", "rotate_all_429_served", float64(x.Served429), "")
}

func (r *report) memory(m memoryResult) {
	if m.Idle.RSS == 0 {
		return
	}
	r.against("memory", "rss_idle_mb", mb(m.Idle.RSS), "MB", "rss_idle_bare_mb", mb(m.BareIdle.RSS), "bare slack-go client", "rss_idle_vs_bare")
	if m.Parked.RSS > 0 {
		r.add("memory", "rss_1000_parked_mb", mb(m.Parked.RSS), "MB")
		r.figures["rss_parked_vs_idle"] = round(mb(m.Parked.RSS) / mb(m.Idle.RSS))
	}
	split := func(x memory) map[string]float64 {
		return map[string]float64{"rss": round(mb(x.RSS)), "peak": round(mb(x.HWM)), "anon": round(mb(x.Anon)), "file": round(mb(x.File))}
	}
	r.details["memory"] = map[string]any{
		"bare_mb": split(m.BareIdle), "idle_mb": split(m.Idle), "parked_mb": split(m.Parked),
		"idle_go": m.IdleGo, "parked_go": m.ParkedGo, "parked_runs": m.ParkedRuns,
	}
}

func (r *report) resume(x resumeResult) {
	if x.Took == 0 {
		return
	}
	r.against("resume", "resume_10000_s", x.Took.Seconds(), "s", "resume_bare_read_s", x.BareRead.Seconds(), "one pipelined read of every run", "resume_vs_bare")
	r.add("resume", "resume_connected_s", x.Connected.Seconds(), "s")
	r.add("resume", "resume_slack_calls", float64(x.SlackCalls), "calls")
	r.details["resume"] = map[string]int{"runs": x.Runs, "interrupted": x.Running}
}

func (r *report) restart(x restartResult) {
	if x.Took == 0 {
		return
	}
	r.against("restart", "restart_resume_s", x.Took.Seconds(), "s", "restart_lease_s", x.Lease.Seconds(), "the dead process's lease, left", "")
	r.details["restart"] = map[string]string{"pod": restartPod, "dead_holder": x.Holder}
}

func (r *report) redis(x redisResult) {
	r.against("redis", "redis_roundtrips_per_step", x.PerStep(), "round trips", "redis_roundtrips_per_step_bare", float64(x.Bare), "GET, SET NX PX, SET, XADD", "redis_roundtrips_vs_bare")
	phases := map[string]int{}
	for _, p := range x.Phases {
		phases[p.Name] = p.Trips
	}
	r.details["redis"] = map[string]any{"roundtrips": x.RoundTrips, "steps": x.Steps, "by_command": x.ByCommand, "phases": phases}
}

// finish notes the targets missed.
func (r *report) finish() {
	missed := r.missed
	for _, k := range figureKeys {
		t, ok := targets[k]
		v, measured := r.figures[k].(float64)
		if ok && measured && !t.met(v) {
			missed = append(missed, fmt.Sprintf("%s %v (target %s %v)", k, v, t.Op, t.Value))
		}
	}
	r.details["targets_missed"] = missed
	r.details["errors"] = r.errs
	r.details["violations"] = len(r.Violations)
}

// write prints the table, then the JSON object as the last line.
func (r *report) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BENCH\tFIGURE\tVALUE\tBASELINE\tRATIO\tTARGET\t")
	for _, x := range r.rows {
		base, ratio := "", ""
		if x.BaselineKey != "" {
			base = fmt.Sprintf("%s %s (%s)", num(x.Baseline), x.Unit, x.BaselineLabel)
			if x.Ratio && x.Baseline > 0 {
				ratio = num(x.Value/x.Baseline) + "x"
			}
		}
		goal := ""
		for _, k := range []string{x.Key, ratioKeyOf(x.Key)} {
			if t, ok := targets[k]; ok {
				v, _ := r.figures[k].(float64)
				mark := "ok"
				if !t.met(v) {
					mark = "MISSED"
				}
				goal = strings.TrimSpace(goal + fmt.Sprintf(" %s %s %v: %s", k, t.Op, t.Value, mark))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t\n", x.Bench, x.Key, num(x.Value), x.Unit, base, ratio, goal)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range r.missed {
		fmt.Fprintln(w, "MISSED:", m)
	}
	for _, e := range r.errs {
		fmt.Fprintln(w, "FAILED:", e)
	}
	all := map[string]any{}
	for k, v := range r.details {
		all[k] = v
	}
	for k, v := range r.figures {
		all[k] = v
	}
	line, err := json.Marshal(all)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// ratioKeyOf names the ratio figure recorded with a figure, if any.
func ratioKeyOf(key string) string {
	switch key {
	case "ack_p99_ms":
		return "ack_p99_vs_bare"
	}
	return ""
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

func num(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e9:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// machine describes where the figures were measured.
func machine() map[string]any {
	m := map[string]any{"go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH, "cpus": runtime.NumCPU(), "at": time.Now().UTC().Format(time.RFC3339)}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(raw), "MemTotal: %d kB", &kb); err == nil {
			m["memory_gb"] = round(float64(kb) / (1 << 20))
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_start"] = strings.Join(strings.Fields(string(raw))[:3], " ")
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(raw))
	}
	if out, err := exec.Command(os.Getenv(redistest.EnvServer), "--version").Output(); err == nil {
		m["redis"] = strings.TrimSpace(string(out))
	}
	return m
}

func (r *report) syncJobs(x syncJobsResult) {
	r.add("syncjobs", "sync_jobs_200_runs", float64(x.Jobs), fmt.Sprintf("Jobs for %d runs", x.Runs))
	r.add("syncjobs", "sync_jobs_max_running", float64(x.MaxRunning), "Jobs at once")
	r.add("syncjobs", "sync_jobs_runs_done", float64(x.Done), fmt.Sprintf("of %d runs, in %s", x.Runs, x.Elapsed.Round(time.Second)))
}
