package blocks

import (
	"fmt"
	"strings"
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

// homeLines caps the tokens listed per environment and group; fewer are
// listed when the environments would not fit in 100 blocks otherwise.
const homeLines = 25

// Home renders the Home tab: per environment the tokens expiring within
// the Home window (expiry, last check-in, consumers), the superseded
// ones, the runs under way and the sweeps. canAct adds the buttons (a
// Rotate per token, a Clean up per pair with superseded tokens, and the
// group buttons), which only people who may start runs see. Past 100
// blocks fewer tokens are listed, each environment counting those it
// left out, and then the environments left out are counted.
func (r Renderer) Home(envs []HomeEnv, canAct bool) []slack.Block {
	head := section(":house: *Signon API tokens*: from each environment's last daily sweep, and the runs under way now.")
	for rows := homeLines; ; rows-- {
		rendered, total := make([][]slack.Block, len(envs)), 1
		for i, e := range envs {
			rendered[i] = r.homeEnv(e, canAct, rows)
			total += len(rendered[i])
		}
		if total <= maxHomeBlocks || rows == 0 {
			return homeFit(head, rendered)
		}
	}
}

// homeFit puts the environments in, as many as 100 blocks hold, and
// counts the rest.
func homeFit(head slack.Block, envs [][]slack.Block) []slack.Block {
	blocks := []slack.Block{head}
	for i, eb := range envs {
		// Room for the count of what is left out, unless nothing is.
		limit := maxHomeBlocks - 1
		if i == len(envs)-1 {
			limit = maxHomeBlocks
		}
		if len(blocks)+len(eb) > limit {
			return append(blocks, context(fmt.Sprintf("%s not shown: the Home tab holds 100 blocks.", countOf(len(envs)-i, "more environment is", "more environments are"))))
		}
		blocks = append(blocks, eb...)
	}
	return blocks
}

// homeEnv is one environment's blocks, listing at most rows tokens per
// group.
func (r Renderer) homeEnv(e HomeEnv, canAct bool, rows int) []slack.Block {
	out := []slack.Block{slack.NewDividerBlock(), section("*" + Escape(e.Name) + "*")}
	next := "no daily sweep configured"
	if !e.Next.IsZero() {
		next = "next sweep " + flows.Date(e.Next)
	}
	if e.Last == nil {
		out = append(out, context("No sweep yet; "+next+"."))
	} else {
		rep := e.Last
		note := fmt.Sprintf("Last sweep %s (Signon's report at %s); %s.", flows.Date(rep.At), flows.Date(rep.SignonNow), next)
		if rep.Consumers == nil && rep.ConsumersUnread != "" {
			note += " Consumers not shown: " + Escape(rep.ConsumersUnread) + "."
		}
		out = append(out, context(note))
		expiring := rep.Expiring()
		head := fmt.Sprintf("*Expiring within %s* (%d)", flows.Span(rep.HomeWithin), len(expiring))
		if len(expiring) == 0 {
			head += "\nNothing."
		}
		out = append(out, section(head))
		out = append(out, r.homeRows(rep, expiring, rows, func(p flows.EstatePair) (string, *slack.ButtonBlockElement) {
			var b *slack.ButtonBlockElement
			if why := rep.Whys[rep.Index(p)]; canAct && why != daily.WhyOtherTeam && why != daily.WhyNotSynced {
				b = button(ActionHomeRotate+":"+pairID(rep, p), homeValue(rep, p), "Rotate", "", nil)
			}
			return r.expiringLine(p, rep.SignonNow), b
		})...)
		if sup := rep.Superseded(); len(sup) > 0 {
			out = append(out, section(fmt.Sprintf("*Superseded* (%s of %s): left behind by a renewal, waiting for clean-up",
				countOf(supersededCount(sup), "token", "tokens"), countOf(len(sup), "pair", "pairs"))))
			out = append(out, r.homeRows(rep, sup, rows, func(p flows.EstatePair) (string, *slack.ButtonBlockElement) {
				var b *slack.ButtonBlockElement
				if canAct {
					b = button(ActionHomeCleanUp+":"+pairID(rep, p), homeValue(rep, p), "Clean up", "", nil)
				}
				return r.supersededLine(p), b
			})...)
		}
		if len(rep.Ignored) > 0 {
			out = append(out, context(ignoredText(rep.Ignored)))
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

// homeRows is a section per pair, its line and consumers beside its
// button, for the first rows pairs; the rest are counted.
func (r Renderer) homeRows(rep *daily.Report, pairs []flows.EstatePair, rows int, row func(flows.EstatePair) (string, *slack.ButtonBlockElement)) []slack.Block {
	var out []slack.Block
	for i, p := range pairs {
		if i == rows {
			out = append(out, context(fmt.Sprintf("%s not listed here, to keep the Home tab within 100 blocks: the digest in the sweep's channel lists them.", countOf(len(pairs)-i, "more is", "more are"))))
			break
		}
		line, b := row(p)
		if cons, known := rep.ConsumersOf(p); known {
			line += "\n    " + readBy(cons)
		}
		var acc *slack.Accessory
		if b != nil {
			acc = slack.NewAccessory(b)
		}
		out = append(out, slack.NewSectionBlock(mrkdwn(line), nil, acc))
	}
	return out
}

// readBy names the workloads that read a pair's Secret, each once.
func readBy(cons []flows.Consumer) string {
	if len(cons) == 0 {
		return "Read by no workload in the cluster: an external consumer, or none."
	}
	var names []string
	for _, n := range flows.WorkloadNames(cons) {
		names = append(names, "`"+Escape(n)+"`")
	}
	return "Read by " + strings.Join(names, ", ") + "."
}

// pairID keeps the per-token buttons' action_ids unique in the view:
// each environment's Signon numbers its users and applications afresh.
func pairID(rep *daily.Report, p flows.EstatePair) string {
	return fmt.Sprintf("%s:%d.%d", rep.Environment, p.User.ID, p.Application.ID)
}

func homeValue(rep *daily.Report, p flows.EstatePair) string {
	return HomeValue(HomeTarget{Environment: rep.Environment, Pair: DigestPair{User: p.User.ID, Application: p.Application.ID}})
}

// homeButtons are one Rotate all and one Ignore… per group in the Home
// window and the superseded clean-up, with the digest's values (and so its checks).
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
		if g.Why != daily.WhyOtherTeam && g.Why != daily.WhyNotSynced && len(g.Pairs) > 0 {
			add(g.Why, g.Pairs, ActionDigestRotateAll, fmt.Sprintf("Rotate all %d (%s)", len(g.Pairs), g.Why))
			add(g.Why, g.Pairs, ActionDigestIgnore, fmt.Sprintf("Ignore… (%s)", g.Why))
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
