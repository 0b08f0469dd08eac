package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// How a rotation is started.
const (
	viaAlert   = "alert"
	viaCommand = "command"
)

// Patience of the people in the channel: a button pressed that changed
// nothing is pressed again after a while (sooner if the bot restarted
// meanwhile, as someone watching the channel would see).
const (
	pressAgain        = 10 * time.Second
	pressAgainRestart = 3 * time.Second
	alertUnanswered   = 15 * time.Second
)

// errStuck is a rotation whose run did not end in time.
var errStuck = errors.New("stuck")

// rotation drives one token's rotation through the fake Slack as Alice
// and Bob would, whatever happens to the bot meanwhile: it starts it from
// an alert or with /rotate-token, presses each gate's button once the bot
// shows it, presses again when nothing came of a press, and returns the
// run once it has ended.
type rotation struct {
	h    *harness
	spec *tokenSpec
	via  string
	// twice presses every button twice at once, so that two replicas
	// see the same click.
	twice bool

	runID   string
	alertTS string
	alertAt time.Time
	// command is when /rotate-token was typed, if it was.
	command   *press
	pressed   map[string]press
	revealsAt int // reveals counted when Reveal was pressed
	paused    map[string]bool
	last      *flows.Run
}

// press is a button pressed, and when: the time and the bot start count.
type press struct {
	at    time.Time
	start int
}

func (h *harness) newRotation(spec *tokenSpec, via string) *rotation {
	return &rotation{h: h, spec: spec, via: via, pressed: map[string]press{}, paused: map[string]bool{}}
}

// drive runs the rotation until its run ends or the time is up (a stuck
// run: errStuck, with the run as it last stood).
func (r *rotation) drive(ctx context.Context, limit time.Duration) (*flows.Run, error) {
	return r.until(ctx, limit, (*flows.Run).Ended)
}

// until runs the rotation until its run satisfies done.
func (r *rotation) until(ctx context.Context, limit time.Duration, done func(*flows.Run) bool) (*flows.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := waitFor(ctx, "the rotation of "+r.spec.email, func() bool {
		run := r.find(ctx)
		if run != nil {
			r.last = run
			if done(run) {
				return true
			}
		}
		r.act(ctx, run)
		return false
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return r.last, fmt.Errorf("%w: %s", errStuck, r.describe())
		}
		return r.last, err
	}
	return r.last, nil
}

func (r *rotation) describe() string {
	if r.last == nil {
		return fmt.Sprintf("%s: no run started (via %s)", r.spec.email, r.via)
	}
	return fmt.Sprintf("%s: run %s %s at %s (%s)", r.spec.email, r.last.ID, r.last.Phase, r.last.Step, r.last.Reason)
}

// act does what a person would do next: start the rotation, or answer
// its open gate.
func (r *rotation) act(ctx context.Context, run *flows.Run) {
	switch {
	case run == nil:
		r.start(ctx)
	case run.Ended() || run.Phase == flows.PhaseRunning || run.Gate == nil:
		// Nothing to press: the bot is at work, or done.
	default:
		r.answer(run)
	}
}

// find loads the rotation's run, if it has one yet.
func (r *rotation) find(ctx context.Context) *flows.Run {
	if r.runID == "" {
		run, err := r.h.store.ActiveRun(ctx, r.spec.key)
		if err != nil {
			return nil
		}
		r.runID = run.ID
		return run
	}
	run, err := r.h.store.Run(ctx, r.runID)
	if err != nil {
		// Redis is down, or lost the run: look again later.
		return r.last
	}
	return run
}

// start asks for the rotation: the alert's Rotate button, or the command.
func (r *rotation) start(ctx context.Context) {
	now := time.Now()
	if r.via == viaCommand {
		if r.command == nil || r.again(*r.command) {
			if r.command != nil {
				r.h.count(func(f *figures) { f.RepeatedPresses++ })
			}
			r.command = &press{at: now, start: r.h.botStarts()}
			r.h.keep(r.h.slack.SendSlashCommand(slacktest.SlashCommand{
				Command: commands.CommandName, Text: r.spec.email + " " + appSlug + " " + env, User: alice, Channel: ops,
			}))
		}
		return
	}
	if r.alertTS == "" {
		r.sendAlert(now)
		return
	}
	// Whatever the offer's record says, a person presses the Rotate
	// button they see in the alert's thread.
	for _, m := range r.h.slack.Thread(alerts, r.alertTS, alice) {
		for _, b := range m.Buttons() {
			if strings.HasPrefix(b.ActionID, blocks.ActionRotate+":") {
				r.pressOnce("rotate/"+b.ActionID, alice, alerts, m.TS, b.ActionID)
				return
			}
		}
	}
	if now.Sub(r.alertAt) > alertUnanswered {
		// The alert's envelope was acknowledged and its answer lost with
		// the bot: the person falls back to the command.
		_, err := r.h.store.OfferForAlert(ctx, alerts, r.alertTS)
		r.h.count(func(f *figures) {
			f.UnansweredAlerts++
			f.finding("crash: alert %s for %s had no answer after %s (its offer recorded: %t); started with /rotate-token instead", r.alertTS, r.spec.email, alertUnanswered, err == nil)
		})
		r.via = viaCommand
	}
}

func (r *rotation) sendAlert(now time.Time) {
	r.alertTS = r.h.newTS()
	r.alertAt = now
	m := slacktest.AlertmanagerMessage(alerts, alertAttachment(r.spec))
	m.TS = r.alertTS
	r.h.keep(r.h.slack.SendMessage(m))
}

// answer presses what the open gate asks of the people in the channel.
func (r *rotation) answer(run *flows.Run) {
	g := run.Gate
	ts := gateMessage(run)
	if ts == "" {
		return // not in Slack yet
	}
	user, action := alice, flows.ActionApprove
	switch {
	case g.Expired:
		action = flows.ActionReopen
	case g.Kind == flows.GateRevoke || g.Kind == flows.GateRevokeDisused:
		user = bob
	case g.Kind == flows.GateHandoff:
		action = r.handoff(g.ID)
	case g.Kind == flows.GateRecover:
		action = flows.ActionRetry
		if !r.paused[g.ID] {
			r.paused[g.ID] = true
			r.h.count(func(f *figures) { f.Pauses++ })
			r.h.say("run %s of %s paused at %s: %s", run.ID, r.spec.email, run.Step, run.Reason)
		}
	}
	key := g.ID + "/" + string(action)
	before := r.h.reveals()
	if r.pressOnce(key, user, run.Thread.Channel, ts, blocks.GatePrefix+string(action)+":"+g.ID) && action == flows.ActionReveal {
		r.revealsAt = before
	}
}

// handoff is the requester's next press at the hand-off: reveal the
// token, then, once the modal has shown it, confirm delivery.
func (r *rotation) handoff(gateID string) flows.Action {
	if _, pressed := r.pressed[gateID+"/"+string(flows.ActionReveal)]; pressed && r.h.reveals() > r.revealsAt {
		return flows.ActionDelivered
	}
	return flows.ActionReveal
}

// pressOnce presses a button unless it was pressed lately or is not
// shown, and reports whether it did.
func (r *rotation) pressOnce(key, user, channel, ts, actionID string) bool {
	p, before := r.pressed[key]
	if before && !r.again(p) {
		return false
	}
	if m, ok := r.h.slack.Message(channel, ts, user); !ok || !hasButton(m, actionID) {
		return false // not shown (yet, or any more)
	}
	n := 1
	if r.twice {
		n = 2
	}
	for range n {
		d := r.h.slack.Click(slacktest.BlockAction{User: user, Channel: channel, MessageTS: ts, ActionID: actionID})
		if d == nil {
			// The button went away between looking and pressing.
			return false
		}
		r.h.keep(d)
	}
	r.h.count(func(f *figures) {
		if before {
			f.RepeatedPresses++
		}
		if r.twice {
			f.DuplicateClicks++
		}
	})
	r.pressed[key] = press{at: time.Now(), start: r.h.botStarts()}
	return true
}

func hasButton(m slacktest.Message, actionID string) bool {
	for _, b := range m.Buttons() {
		if b.ActionID == actionID {
			return true
		}
	}
	return false
}

// again: a press long enough ago, or before a restart, to try again.
func (r *rotation) again(p press) bool { return r.h.pressAgain(p) }

// pressAgain: a press long enough ago, or before a restart, to try again.
func (h *harness) pressAgain(p press) bool {
	since := time.Since(p.at)
	return since > pressAgain || (h.botStarts() != p.start && since > pressAgainRestart)
}

// gateMessage is the ts of the message that shows the run's open gate,
// once the bot has posted it.
func gateMessage(run *flows.Run) string {
	for _, p := range run.Posts {
		if p.Gate == run.Gate.ID {
			return run.Receipts[p.ID].TS
		}
	}
	return ""
}

// alertAttachment is Alertmanager's message for one expiring token.
func alertAttachment(s *tokenSpec) slackapi.Attachment {
	link := "https://alertmanager.eks." + env + ".govuk.digital/#/alerts?receiver=monitoring%2Fslack"
	labels := strings.Join([]string{s.email, appSlug, env, "monitoring/kube-prometheus-stack-prometheus", "warning"}, " ")
	return slackapi.Attachment{
		Color:     "#ffa500",
		Title:     ":warning: WARNING: " + commands.AlertName,
		TitleLink: link,
		Pretext:   "The following alert is firing:",
		Text:      "\n*Signon API User token is due to expire soon*\n*Description*:\nA token is about to expire within the next two weeks and needs rotating.",
		Fallback:  "[FIRING:1] " + commands.AlertName + " (" + labels + ") | " + link,
		Fields: []slackapi.AttachmentField{
			{Title: "Status", Value: ":fire: Firing", Short: true},
			{Title: "Severity", Value: ":warning: Warning", Short: true},
			{Title: "Environment", Value: "Production", Short: true},
		},
	}
}
