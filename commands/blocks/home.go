package blocks

import (
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// maxHomeBlocks is Block Kit's limit of blocks in a Home tab.
const maxHomeBlocks = 100

// HomeEnv is one environment as the Home tab shows it: the last sweep's
// report (nil before the first) and the runs under way now, both read
// from Redis, never from Signon.
type HomeEnv struct {
	Name string
	Last *daily.Report
	Runs []daily.RunRef
	// Next is the next sweep, when the environment sweeps.
	Next time.Time
}

// homeLines caps the tokens listed per environment.
const homeLines = 25

// Home renders the Home tab: per environment the tokens expiring within
// the Home window (expiry, last check-in), the runs under way and the
// sweeps. canAct adds the group buttons, which only people who may start
// runs see. Past 100 blocks the environments left out are summarised.
func (r Renderer) Home(envs []HomeEnv, canAct bool) []slack.Block {
	blocks := []slack.Block{section(":house: *Signon API tokens*: from each environment's last daily sweep, and the runs under way now.")}
	for i, e := range envs {
		eb := r.homeEnv(e, canAct)
		if len(blocks)+len(eb) > maxHomeBlocks-1 {
			blocks = append(blocks, context(fmt.Sprintf("%s not shown: the Home tab holds 100 blocks.", countOf(len(envs)-i, "more environment is", "more environments are"))))
			break
		}
		blocks = append(blocks, eb...)
	}
	return blocks
}

func (r Renderer) homeEnv(e HomeEnv, canAct bool) []slack.Block {
	out := []slack.Block{slack.NewDividerBlock(), section("*" + Escape(e.Name) + "*")}
	next := "no daily sweep configured"
	if !e.Next.IsZero() {
		next = "next sweep " + flows.Date(e.Next)
	}
	if e.Last == nil {
		out = append(out, context("No sweep yet; "+next+"."))
	} else {
		rep := e.Last
		out = append(out, context(fmt.Sprintf("Last sweep %s (Signon's report at %s); %s.", flows.Date(rep.At), flows.Date(rep.SignonNow), next)))
		expiring := rep.Expiring()
		lines := []string{fmt.Sprintf("*Expiring within %s* (%d)", flows.Span(rep.HomeWithin), len(expiring))}
		for i, p := range expiring {
			if i == homeLines {
				lines = append(lines, fmt.Sprintf("…and %d more: the digest in the sweep's channel groups them.", len(expiring)-homeLines))
				break
			}
			lines = append(lines, r.expiringLine(p, rep.SignonNow))
		}
		if len(expiring) == 0 {
			lines = append(lines, "Nothing.")
		}
		out = append(out, section(fitLines(lines)))
		if old := supersededCount(rep.Superseded()); old > 0 {
			out = append(out, context(fmt.Sprintf("%s waiting for clean-up.", countOf(old, "superseded token", "superseded tokens"))))
		}
		if canAct {
			if b := r.homeButtons(rep); b != nil {
				out = append(out, b)
			}
		}
	}
	if len(e.Runs) > 0 {
		out = append(out, section(r.openRuns(e.Runs, homeLines)))
	}
	return out
}

// homeButtons are one Rotate all per group in the Home window and the
// superseded clean-up, with the digest's values (and so its checks).
func (r Renderer) homeButtons(rep *daily.Report) slack.Block {
	var buttons []slack.BlockElement
	add := func(why daily.Why, pairs []flows.EstatePair, action, label string) {
		t := DigestTarget{Environment: rep.Environment, Day: rep.Day, Why: why}
		for _, p := range pairs {
			t.Pairs = append(t.Pairs, DigestPair{User: p.User.ID, Application: p.Application.ID})
		}
		if v := DigestValue(t); v != "" && len(buttons) < 25 {
			buttons = append(buttons, button(action+":home-"+string(why), v, label, "", nil))
		}
	}
	for _, g := range rep.GroupsWithin(rep.HomeWithin) {
		if g.Why != daily.WhyOtherTeam && g.Why != daily.WhyNotSynced {
			add(g.Why, g.Pairs, ActionDigestRotateAll, fmt.Sprintf("Rotate all %d (%s)", len(g.Pairs), g.Why))
		}
	}
	if sup := rep.Superseded(); len(sup) > 0 {
		add(WhySuperseded, sup, ActionDigestRevoke, fmt.Sprintf("Revoke %d superseded", supersededCount(sup)))
	}
	if len(buttons) == 0 {
		return nil
	}
	return slack.NewActionBlock("home-"+rep.Environment, buttons...)
}
