package bot

import (
	"strings"
	"testing"
	"time"
)

func TestSweepConfig(t *testing.T) {
	const env = "environments:\n  production:\n    sweep:\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"no channel", env + "      at: \"02:00\"\n", "environments.production.sweep.channel: the sweep is configured but has no channel for its digest"},
		{"channel", env + "      channel: general\n", `environments.production.sweep.channel: "general" is not a channel id (like C0123ABCD)`},
		{"before the renewal", env + "      channel: C0DIGEST\n      at: \"01:05\"\n", "environments.production.sweep.at: sweep time 01:05 is before 01:15 UTC: Signon renews internal tokens at 01:00 and the sync Jobs run until after 01:12, and a sweep before them reports what they are about to fix"},
		{"not a time", env + "      channel: C0DIGEST\n      at: 2am\n", `environments.production.sweep.at: sweep time "2am" is not HH:MM (24-hour, UTC)`},
		{"window", env + "      channel: C0DIGEST\n      within: 1h\n", "environments.production.sweep.within: 1h0m0s is not between 24h and 8784h0m0s"},
		{"not rotated", "environments:\n  staging:\n    sweep:\n      channel: C0DIGEST\n", "environments.staging.sweep: the bot sweeps only environments it rotates in (rotate: true)"},
		{"unknown key", env + "      chanel: C0DIGEST\n", "environments.production.sweep.chanel: unknown key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, c.yaml)
			_, err := loadConfig(getenv(validEnv()), path)
			if err == nil || !strings.Contains(err.Error(), path+": "+c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	path := writeFile(t, env+"      channel: C0DIGEST\n      at: \"06:30\"\n      within: 1440h\n      quiet: true\n")
	cfg, err := loadConfig(getenv(validEnv()), path)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Environments["production"].Sweep
	sched, err := s.schedule()
	if err != nil || !s.enabled() || sched.At != 6*time.Hour+30*time.Minute || s.Within != 60*24*time.Hour || !s.Quiet {
		t.Errorf("sweep %+v (%v at %v), want C0DIGEST at 06:30 over 60 days, quiet", s, err, sched.At)
	}
	if cfg.Environments["integration"].Sweep.enabled() {
		t.Errorf("integration sweeps without being configured to")
	}
}
