package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// e2ePackages are the end-to-end suite the leak scan runs with every token
// recorded.
var e2ePackages = []string{"./commands/...", "./flows/...", "./cmd/internal/bot/...", "./cmd/demo/..."}

// leakPhase looks for every token the doubles made (here, in the
// end-to-end tests and in the demo) in everything written: the bots'
// logs, Redis's keys and values, every Slack call the fake received but
// the reveal modal's, the bots' metrics, and the tests' and the demo's
// output.
func (h *harness) leakPhase(ctx context.Context) error {
	h.scan.know(h.signon.IssuedSecrets()...)
	if err := h.dumpRedis(ctx, "redis-end"); err != nil {
		return err
	}
	if err := h.saveSlack(ctx); err != nil {
		return err
	}
	record := filepath.Join(h.dir, "output", "tokens.record")
	h.scan.plaintextFile(record)
	if err := h.e2eSuite(ctx, record); err != nil {
		return err
	}
	if err := h.demos(ctx, record); err != nil {
		return err
	}
	if err := h.scan.knowFile(record); err != nil {
		return err
	}
	found, err := h.scan.scanFiles()
	known, bytes, sources := h.scan.stats()
	h.count(func(f *figures) {
		// A reveal written into someone else's modal showed them the token.
		f.TokensLeaked += found + f.MisdirectedReveals
		f.KnownTokens, f.ScannedBytes, f.ScannedSources = known, bytes, sources
		for _, w := range h.scan.where() {
			f.finding("leak: %s", w)
		}
	})
	return err
}

// save writes output the harness collected into the work directory and
// has it scanned.
func (h *harness) save(name string, data []byte) error {
	path := filepath.Join(h.dir, "output", name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	h.scan.addFile(name, path)
	return nil
}

// saveMetrics keeps a bot's /metrics and /readyz for the scan.
func (h *harness) saveMetrics(ctx context.Context, b *bot, when string) {
	for _, path := range []string{"/metrics", "/readyz"} {
		_, body, err := b.get(ctx, path)
		if err != nil {
			h.debug("%s of %s: %v", path, b.name, err)
			continue
		}
		_ = h.save(fmt.Sprintf("%s-%s-%d-%s", strings.Trim(path, "/"), b.name, b.pid(), when), []byte(body))
	}
}

// dumpRedis writes every key Redis holds, with its type and value (read
// as its type and as DUMP), into a file for the scan.
func (h *harness) dumpRedis(ctx context.Context, name string) error {
	var b strings.Builder
	keys := 0
	iter := h.rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		keys++
		typ, err := h.rdb.Type(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("dump Redis: TYPE %s: %w", key, err)
		}
		var v any
		switch typ {
		case "string":
			v, err = h.rdb.Get(ctx, key).Result()
		case "hash":
			v, err = h.rdb.HGetAll(ctx, key).Result()
		case "list":
			v, err = h.rdb.LRange(ctx, key, 0, -1).Result()
		case "set":
			v, err = h.rdb.SMembers(ctx, key).Result()
		case "zset":
			v, err = h.rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "stream":
			v, err = h.rdb.XRange(ctx, key, "-", "+").Result()
		}
		if err != nil && err != redis.Nil {
			return fmt.Errorf("dump Redis: read %s: %w", key, err)
		}
		dump, _ := h.rdb.Dump(ctx, key).Result()
		fmt.Fprintf(&b, "%s %s %v\nDUMP %q\n", key, typ, v, dump)
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("dump Redis: SCAN: %w", err)
	}
	h.debug("Redis %s: %d keys", name, keys)
	return h.save(name+".txt", []byte(b.String()))
}

// saveSlack writes down everything the fake received and shows: each Web
// API call but the reveal modal's updates, the answers to the harness's
// envelopes, and every message as each person sees it.
func (h *harness) saveSlack(ctx context.Context) error {
	var b strings.Builder
	for _, c := range h.slack.Calls() {
		if isReveal(c) {
			continue
		}
		args, _ := json.Marshal(c.Args)
		fmt.Fprintf(&b, "call %s %s %s\n", c.Method, c.Error, args)
	}
	h.mu.Lock()
	deliveries := slices.Clone(h.deliveries)
	h.mu.Unlock()
	for _, d := range deliveries {
		for _, r := range d.Responses() {
			fmt.Fprintf(&b, "response %s %s %s\n", d.EnvelopeID, r.Text, r.Blocks)
		}
		if d.Acked() {
			actx, cancel := context.WithTimeout(ctx, time.Second)
			ack, err := d.WaitAck(actx)
			cancel()
			if err == nil {
				fmt.Fprintf(&b, "ack %s %s\n", d.EnvelopeID, ack.Payload)
			}
		}
	}
	for _, ch := range []string{alerts, ops} {
		for _, viewer := range []string{"", alice, bob} {
			for _, root := range h.slack.History(ch, viewer) {
				for _, m := range h.slack.Thread(ch, root.TS, viewer) {
					fmt.Fprintf(&b, "message %s %s %s\n", ch, m.TS, messageText(m))
				}
			}
		}
	}
	if n := injectedMentions(b.String()); n > 0 {
		h.count(func(f *figures) {
			f.MentionsInjected += n
			f.finding("leak: %d mention(s) injected through an API user's name reached Slack", n)
		})
	}
	if v := h.tb.Violations(); len(v) > 0 {
		h.count(func(f *figures) {
			f.SlackViolations = len(v)
			for _, l := range v {
				f.finding("slack: %s", l)
			}
		})
	}
	return h.save("slack.txt", []byte(b.String()))
}

// injectedMentions counts the mentions hostileName tries to make that
// are in what reached Slack as mentions, not as escaped text.
func injectedMentions(sent string) int {
	// Blocks travel as JSON inside JSON, where < is written \\u003c.
	sent = strings.NewReplacer("u003c", "<", "u003e", ">").Replace(strings.ReplaceAll(sent, `\`, ""))
	return strings.Count(sent, "<@"+injectedUser+">") + strings.Count(sent, "<!channel>")
}

// e2eSuite runs the end-to-end tests with the Signon double recording
// every token it makes, for their output to be scanned.
func (h *harness) e2eSuite(ctx context.Context, record string) error {
	h.say("leak scan: running the end-to-end tests (%s)", strings.Join(e2ePackages, " "))
	args := append([]string{"test", "-tags", "tokenrecord", "-count=1", "-json"}, e2ePackages...)
	res, err := h.goTest(ctx, "e2e", []string{signontest.EnvTokenRecord + "=" + record}, args...)
	if err != nil {
		return err
	}
	h.e2e = res
	failed := res.failed()
	h.count(func(f *figures) {
		f.E2EFailures = len(failed)
		for _, t := range failed {
			f.finding("e2e: %s failed (see the end-to-end suite)", t)
		}
	})
	return nil
}

// demos plays every scenario of cmd/demo (one with -short) with the
// token recorder on.
func (h *harness) demos(ctx context.Context, record string) error {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir, signontest.EnvTokenRecord + "=" + record}
	list, err := h.demo(ctx, env, "-list")
	scenarios := demoScenarios(list)
	if err != nil || len(scenarios) == 0 {
		h.count(func(f *figures) {
			f.finding("demo: `demo -list` names no scenario (%v): the demo was not scanned", err)
		})
		return nil
	}
	if h.opt.short {
		scenarios = scenarios[:1]
	}
	for _, s := range scenarios {
		_, err := h.demo(ctx, env, "-scenario", s)
		h.count(func(f *figures) {
			f.DemoScenarios++
			if err != nil {
				f.DemoFailures++
				f.finding("demo: scenario %s: %v", s, err)
			}
		})
	}
	return nil
}

// demo runs cmd/demo with args; its output is kept for the scan.
func (h *harness) demo(ctx context.Context, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.demoBin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if serr := h.save("demo"+strings.Join(args, "_")+".txt", out); serr != nil {
		return "", serr
	}
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, tail(string(out), 5))
	}
	return string(out), nil
}

// demoScenarios reads `demo -list`: a scenario name first on each line.
func demoScenarios(list string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && !strings.HasSuffix(f[0], ":") && f[0] == strings.ToLower(f[0]) && !strings.ContainsAny(f[0], ".,") {
			out = append(out, f[0])
		}
	}
	return out
}
