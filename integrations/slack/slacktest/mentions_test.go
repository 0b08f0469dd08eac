package slacktest_test

import (
	"slices"
	"testing"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// A new message notifies whom its mrkdwn mentions, a user group's
// members among them, as long as they are in the channel; a button's
// label, an unknown group and an edit notify nobody.
func TestMentionsNotifyAsSlackDoes(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	w.s.AddUser(slacktest.User{ID: "U0CAROL", Name: "carol"})
	w.s.AddUserGroup("S0WIDE", "U0ALICE", "U0CAROL")
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}

	_, group, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("<!subteam^S0WIDE|@wide> confirm?", false),
		slack.MsgOptionBlocks(slack.NewContextBlock("", md("<!subteam^S0WIDE> <!subteam^S0NONE>"))))
	if err != nil {
		t.Fatal(err)
	}
	if got := w.s.Notified("C0ALERTS", group); !slices.Equal(got, []string{"U0ALICE"}) {
		t.Errorf("a group mention notified %v, want its member in the channel, U0ALICE", got)
	}
	_, user, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("fallback", false),
		slack.MsgOptionBlocks(
			slack.NewSectionBlock(md("<@U0BOB> please"), nil, nil),
			slack.NewActionBlock("a", slack.NewButtonBlockElement("b", "v", slack.NewTextBlockObject(slack.PlainTextType, "<@U0ALICE>", false, false)))))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := w.api.UpdateMessageContext(ctx, "C0ALERTS", user, slack.MsgOptionText("<!subteam^S0OPS> now", false)); err != nil {
		t.Fatal(err)
	}
	if got := w.s.Notified("C0ALERTS", user); !slices.Equal(got, []string{"U0BOB"}) {
		t.Errorf("notified %v, want U0BOB alone: a label does not mention, an edit notifies nobody", got)
	}
}
