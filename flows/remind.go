package flows

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A question that expires is asked once more before it does: a reminder
// in its thread, with its buttons and the same people pinged, once the
// policy's share of its time open has passed. The reminder is a post of
// the run, recorded with the gate's RemindedAt in one compare-and-set
// write before anything reaches Slack, and posted by the run's drive,
// under its lease: a replica that crashes after the write has the post
// published by the next drive (the run has a post without a receipt),
// and one that crashes before it leaves the reminder due, so the next
// sweep records it. Two replicas' sweeps race on the write, and one wins.

// remindDue reports whether the run's open gate is due its reminder now:
// past the policy's share of its time open, not yet expired, not yet
// reminded. A batch asks its members' questions itself, and a recovery
// question does not expire, so neither is reminded.
func (e *Engine) remindDue(r *Run, now time.Time) bool {
	g := r.Gate
	if e.policy.ReminderPercent <= 0 || r.Phase != PhaseWaiting || g == nil || g.Batch != "" || g.Expired ||
		g.ExpiresAt.IsZero() || !g.RemindedAt.IsZero() || !now.Before(g.ExpiresAt) {
		return false
	}
	open := g.ExpiresAt.Sub(g.OpenedAt)
	return !now.Before(g.OpenedAt.Add(open * time.Duration(e.policy.ReminderPercent) / 100))
}

// remind records the reminder of a waiting run's gate and publishes it.
func (e *Engine) remind(ctx context.Context, id string) {
	for range 5 {
		run, err := e.store.Run(ctx, id)
		now := e.clock.Now()
		if err != nil || !e.remindDue(run, now) {
			return
		}
		g := run.Gate
		g.RemindedAt = now
		run.post(reminder(run, g, now))
		if err := e.save(ctx, run); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			e.runLog(run).Warn("remind at a gate", "err", err)
			return
		}
		e.audit(ctx, run, "bot", "remind", "ok", gateKind(g))
		// The drive posts it under the run's lease: a sweep on another
		// replica that finds the post without a receipt waits for the
		// lease instead of posting it a second time.
		e.startDrive(ctx, id)
		return
	}
}

// reminder is the post that asks the gate's question again.
func reminder(run *Run, g *Gate, now time.Time) Post {
	title := g.Prompt
	for _, p := range run.Posts {
		if p.Gate == g.ID {
			title = p.Title
			break
		}
	}
	ping := g.Ping
	if g.OnlyUser != "" {
		// A hand-off waits for its requester alone.
		ping = Mention(g.OnlyUser)
	}
	line := fmt.Sprintf("Still waiting for an answer. This question expires %s (in %s); the run then waits until someone asks again.", When(g.ExpiresAt), Span(g.ExpiresAt.Sub(now)))
	return Post{Step: run.Step, At: now, Title: "Reminder: " + title, Lines: []string{line}, Gate: g.ID, Ping: ping}
}
