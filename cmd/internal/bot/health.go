package bot

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/prom"
)

// connection is what /readyz asks of the Slack runner.
type connection interface{ Connected() bool }

// troubled is a connection that can say why it is down.
type troubled interface{ Trouble() string }

// pinger is what /readyz asks of Redis.
type pinger interface {
	Ping(ctx context.Context) error
}

// reporter says how the environments stand, a line each. They do not
// decide readiness: the bot serves the environments that answer.
type reporter interface{ Lines() []string }

// pingFunc adapts a function to pinger.
type pingFunc func(ctx context.Context) error

func (f pingFunc) Ping(ctx context.Context) error { return f(ctx) }

// healthHandler serves /healthz (the process answers), /readyz (Slack
// connected and Redis answering, each reported on its own line, then how
// each environment stands) and /metrics.
func healthHandler(slack connection, redis pinger, envs reporter, reg *prom.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var lines []string
		ready := true
		if slack.Connected() {
			lines = append(lines, "slack: connected")
		} else {
			ready = false
			line := "slack: not connected"
			if t, ok := slack.(troubled); ok && t.Trouble() != "" {
				line += ": " + oneLine(t.Trouble())
			}
			lines = append(lines, line)
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := redis.Ping(ctx); err != nil {
			ready = false
			lines = append(lines, "redis: "+oneLine(err.Error()))
		} else {
			lines = append(lines, "redis: ok")
		}
		if envs != nil {
			lines = append(lines, envs.Lines()...)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	})
	mux.Handle("GET /metrics", reg)
	return mux
}
