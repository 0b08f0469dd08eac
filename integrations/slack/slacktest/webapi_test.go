package slacktest_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

func TestThreadReadsBackAsAPersonSeesIt(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)

	alert := w.s.SendMessage(slacktest.AlertmanagerMessage("C0ALERTS", slack.Attachment{
		Title:  ":warning: WARNING: SignonApiUserTokenExpirySoon",
		Fields: []slack.AttachmentField{{Title: "Environment", Value: "Production", Short: true}},
	}))
	root := w.s.History("C0ALERTS", "")[0].TS
	if alert.EventID == "" {
		t.Error("message event has no event_id")
	}

	_, _, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionTS(root),
		slack.MsgOptionText("fallback", false),
		slack.MsgOptionBlocks(
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Token of `a@example.com`", false, false), nil, nil),
			slack.NewActionBlock("offer", slack.NewButtonBlockElement("rotate", "item-1", slack.NewTextBlockObject(slack.PlainTextType, "Rotate", false, false))),
		))
	if err != nil {
		t.Fatalf("post reply: %v", err)
	}
	_, second, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionTS(root), slack.MsgOptionText("working on it", false))
	if err != nil {
		t.Fatalf("post second reply: %v", err)
	}
	_, _, _, err = w.api.UpdateMessageContext(ctx, "C0ALERTS", second, slack.MsgOptionText("done", false))
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, err := w.api.PostEphemeralContext(ctx, "C0ALERTS", "U0ALICE", slack.MsgOptionTS(root), slack.MsgOptionText("only for alice", false)); err != nil {
		t.Fatalf("post ephemeral: %v", err)
	}

	want := "Prometheus Alertmanager: :warning: WARNING: SignonApiUserTokenExpirySoon\n" +
		"  Environment: Production\n" +
		"  > signon-token-bot: Token of `a@example.com`\n" +
		"    [Rotate]\n" +
		"  > signon-token-bot (edited): done\n" +
		"  > signon-token-bot (only visible to alice): only for alice\n"
	if got := w.s.Transcript("C0ALERTS", root); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	if n := len(w.s.Thread("C0ALERTS", root, "U0BOB")); n != 3 {
		t.Errorf("bob sees %d messages in the thread, want 3 (not alice's ephemeral)", n)
	}
	if n := len(w.s.Thread("C0ALERTS", root, "U0ALICE")); n != 4 {
		t.Errorf("alice sees %d messages in the thread, want 4", n)
	}
	msgs := w.s.Thread("C0ALERTS", root, "")
	if b, ok := msgs[1].Button("Rotate"); !ok || b.ActionID != "rotate" || b.Value != "item-1" {
		t.Errorf("Rotate button = %+v, %v", b, ok)
	}
	if msgs[1].TS >= msgs[2].TS || root >= msgs[1].TS {
		t.Errorf("ts values do not increase: %s %s %s", root, msgs[1].TS, msgs[2].TS)
	}

	link, err := w.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: "C0ALERTS", Ts: second})
	if err != nil || !strings.Contains(link, "thread_ts="+root) {
		t.Errorf("permalink = %q, %v", link, err)
	}
}

func TestCallsAreCheckedAsSlackChecksThem(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)

	_, _, err := w.api.PostMessageContext(ctx, "C0NOPE", slack.MsgOptionText("hi", false))
	if slackError(err) != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}
	_, _, err = w.api.PostMessageContext(ctx, "C0OTHER", slack.MsgOptionText("hi", false))
	if slackError(err) != "not_in_channel" {
		t.Errorf("channel without the bot: %v", err)
	}
	_, _, err = w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionTS("1764144000.000100"), slack.MsgOptionText("hi", false))
	if slackError(err) != "invalid_thread_ts" {
		t.Errorf("thread_ts naming no message: %v", err)
	}
	_, err = w.api.PostEphemeralContext(ctx, "C0ALERTS", "U0NOBODY", slack.MsgOptionText("hi", false))
	if slackError(err) != "user_not_found" {
		t.Errorf("ephemeral to an unknown user: %v", err)
	}
	_, _, _, err = w.api.UpdateMessageContext(ctx, "C0ALERTS", "1764144000.000100", slack.MsgOptionText("x", false))
	if slackError(err) != "message_not_found" {
		t.Errorf("update of a missing message: %v", err)
	}

	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(w.s.URL()))
	if _, err := bad.AuthTestContext(ctx); slackError(err) != "invalid_auth" {
		t.Errorf("wrong bot token: %v", err)
	}
	app := slack.New(w.s.AppToken, slack.OptionAPIURL(w.s.URL()))
	if _, err := app.AuthTestContext(ctx); slackError(err) != "not_allowed_token_type" {
		t.Errorf("app token on a Web API method: %v", err)
	}
	auth, err := w.api.AuthTestContext(ctx)
	if err != nil || auth.UserID != w.s.BotUserID || auth.BotID != w.s.BotID {
		t.Errorf("auth.test = %+v, %v", auth, err)
	}

	u, err := w.api.GetUserInfoContext(ctx, "U0ALICE")
	if err != nil || u.Profile.Email != "alice@example.gov.uk" {
		t.Errorf("users.info = %+v, %v", u, err)
	}
	members, err := w.api.GetUserGroupMembersContext(ctx, "S0OPS")
	if err != nil || strings.Join(members, ",") != "U0ALICE,U0BOB" {
		t.Errorf("usergroups.users.list = %v, %v", members, err)
	}
	if _, err := w.api.GetUserGroupMembersContext(ctx, "S0NONE"); slackError(err) != "no_such_subteam" {
		t.Errorf("unknown group: %v", err)
	}
	if got := len(w.s.Calls("chat.postMessage")); got != 3 {
		t.Errorf("recorded %d chat.postMessage calls, want 3", got)
	}
}

func TestUnknownMethodFailsTheTest(t *testing.T) {
	w := newWorld(t)
	_, err := w.api.GetConversationHistoryContext(ctxT(t), &slack.GetConversationHistoryParameters{ChannelID: "C0ALERTS"})
	if slackError(err) != "unknown_method" {
		t.Errorf("conversations.history: %v, want unknown_method", err)
	}
	w.rec.expectViolation(t, `unknown Web API method "conversations.history"`)
}

func TestUnknownOrMalformedArgumentFailsTheTest(t *testing.T) {
	w := newWorld(t)
	post := func(method string, form url.Values) string {
		t.Helper()
		form.Set("token", w.s.BotToken)
		resp, err := http.PostForm(w.s.URL()+method, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		if err := decodeJSON(resp, &body); err != nil {
			t.Fatal(err)
		}
		return body.Error
	}
	if got := post("chat.postMessage", url.Values{"channel": {"C0ALERTS"}, "text": {"x"}, "colour": {"red"}}); got != "invalid_arguments" {
		t.Errorf("unknown argument: %s", got)
	}
	w.rec.expectViolation(t, `unknown argument "colour"`)

	if got := post("chat.postMessage", url.Values{"channel": {"C0ALERTS"}, "text": {"x"}, "unfurl_links": {"yes"}}); got != "invalid_arguments" {
		t.Errorf("malformed boolean: %s", got)
	}
	w.rec.expectViolation(t, "is not a boolean")

	if got := post("chat.update", url.Values{"channel": {"C0ALERTS"}, "ts": {"yesterday"}, "text": {"x"}}); got != "invalid_arguments" {
		t.Errorf("malformed ts: %s", got)
	}
	w.rec.expectViolation(t, "is not a timestamp")

	if got := post("chat.postMessage", url.Values{"channel": {"C0ALERTS"}, "blocks": {"[{"}}); got != "invalid_blocks_format" {
		t.Errorf("blocks that are not JSON: %s", got)
	}
	w.rec.expectViolation(t, "not a JSON array")

	if got := post("chat.postMessage", url.Values{"channel": {"C0ALERTS"}}); got != "no_text" {
		t.Errorf("no text or blocks: %s", got)
	}
	w.rec.expectViolation(t, "neither text nor blocks")
}

// A date token shows as its fallback in a transcript, as a client that
// cannot format it would show it.
func TestDateTokensShowTheirFallback(t *testing.T) {
	w := newWorld(t)
	_, ts, err := w.api.PostMessageContext(ctxT(t), "C0ALERTS", slack.MsgOptionText("fallback", false), slack.MsgOptionBlocks(slack.NewSectionBlock(
		slack.NewTextBlockObject(slack.MarkdownType, "Expires <!date^1796482800^{date_short_pretty} {time}|5 Dec 2026 15:00 UTC>.", false, false), nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := w.s.Transcript("C0ALERTS", ts); !strings.Contains(got, "Expires 5 Dec 2026 15:00 UTC.") {
		t.Errorf("transcript:\n%s", got)
	}
}

func TestBlocksOverBlockKitLimitsAreRejected(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	text := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	section := func(s string) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, s, false, false), nil, nil)
	}
	button := func(id, label, value string) slack.BlockElement {
		return slack.NewButtonBlockElement(id, value, text(label))
	}
	many := func(n int, f func(i int) slack.Block) []slack.Block {
		var out []slack.Block
		for i := range n {
			out = append(out, f(i))
		}
		return out
	}
	var buttons []slack.BlockElement
	for i := range 26 {
		buttons = append(buttons, button("b"+string(rune('a'+i)), "x", ""))
	}
	cases := []struct {
		name   string
		blocks []slack.Block
		want   string
	}{
		{"51 blocks", many(51, func(int) slack.Block { return section("x") }), "no more than 50 items"},
		{"section text of 3001", []slack.Block{section(strings.Repeat("x", 3001))}, "must be less than 3001 characters"},
		{"26 buttons", []slack.Block{slack.NewActionBlock("", buttons...)}, "no more than 25 items"},
		{"button text of 76", []slack.Block{slack.NewActionBlock("", button("a", strings.Repeat("x", 76), ""))}, "must be less than 76 characters"},
		{"button value of 2001", []slack.Block{slack.NewActionBlock("", button("a", "x", strings.Repeat("v", 2001)))}, "must be less than 2001 characters"},
		{"action_id of 256", []slack.Block{slack.NewActionBlock("", button(strings.Repeat("a", 256), "x", ""))}, "must be less than 256 characters"},
		{"repeated action_id", []slack.Block{slack.NewActionBlock("", button("a", "x", "")), slack.NewActionBlock("", button("a", "y", ""))}, `action_id "a" is already used`},
		{"header of 151", []slack.Block{slack.NewHeaderBlock(text(strings.Repeat("h", 151)))}, "must be less than 151 characters"},
		{"mrkdwn header", []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.MarkdownType, "h", false, false))}, "must be plain_text"},
		{"date without fallback", []slack.Block{section("<!date^1796482800^{date_short_pretty} {time}>")}, "malformed date token"},
		{"date with no token string", []slack.Block{section("<!date^1796482800^soon|5 Dec>")}, "malformed date token"},
		{"date in plain text", []slack.Block{slack.NewHeaderBlock(text("<!date^1796482800^{time}|15:00>"))}, "only read in mrkdwn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("fallback", false), slack.MsgOptionBlocks(c.blocks...))
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != "invalid_blocks" || !strings.Contains(strings.Join(se.ResponseMetadata.Messages, "\n"), c.want) {
				t.Errorf("got %v (%+v), want invalid_blocks mentioning %q", err, se.ResponseMetadata, c.want)
			}
			w.rec.expectViolation(t, c.want)
		})
	}

	// The limits themselves pass: 50 blocks, 25 buttons, 3000 characters.
	ok := append(many(48, func(int) slack.Block { return section("x") }),
		section(strings.Repeat("x", 3000)), slack.NewActionBlock("", buttons[:25]...))
	if _, _, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("fallback", false), slack.MsgOptionBlocks(ok...)); err != nil {
		t.Errorf("blocks at the limits: %v", err)
	}
}

func TestTriggerIDsExpireAndAreSingleUse(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	modal := slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject(slack.PlainTextType, "Rotate a token", false, false),
		CallbackID: "rotate-form",
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(
			slack.NewTextBlockObject(slack.MarkdownType, "hello", false, false), nil, nil)}},
	}

	stale := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", User: "U0ALICE", Channel: "C0ALERTS"})
	w.clock.Advance(slacktest.TriggerLifetime + time.Millisecond)
	if _, err := w.api.OpenViewContext(ctx, stale.TriggerID, modal); slackError(err) != "expired_trigger_id" {
		t.Errorf("stale trigger: %v, want expired_trigger_id", err)
	}

	fresh := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", User: "U0ALICE", Channel: "C0ALERTS"})
	w.clock.Advance(slacktest.TriggerLifetime)
	v, err := w.api.OpenViewContext(ctx, fresh.TriggerID, modal)
	if err != nil {
		t.Fatalf("fresh trigger: %v", err)
	}
	if open := w.s.OpenViews("U0ALICE"); len(open) != 1 || open[0].ID != v.ID || open[0].CallbackID != "rotate-form" {
		t.Errorf("open views = %+v", open)
	}
	if _, err := w.api.OpenViewContext(ctx, fresh.TriggerID, modal); slackError(err) != "exchanged_trigger_id" {
		t.Errorf("reused trigger: %v, want exchanged_trigger_id", err)
	}
	if _, err := w.api.OpenViewContext(ctx, "12345.67890.abcdef", modal); slackError(err) != "invalid_trigger_id" {
		t.Errorf("unknown trigger: %v, want invalid_trigger_id", err)
	}
	if _, err := w.api.UpdateViewContext(ctx, modal, "", "h.stale", v.ID); slackError(err) != "hash_conflict" {
		t.Errorf("update with a stale hash: %v, want hash_conflict", err)
	}
	if _, err := w.api.UpdateViewContext(ctx, modal, "", v.Hash, v.ID); err != nil {
		t.Errorf("update with the current hash: %v", err)
	}
}

func TestRateLimitedCallsGet429WithRetryAfter(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)

	w.s.RateLimitNext("chat.update", 2, 7)
	_, ts, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("status", false))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, _, _, err := w.api.UpdateMessageContext(ctx, "C0ALERTS", ts, slack.MsgOptionText("status 2", false))
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
			t.Fatalf("update: %v, want a 429 with Retry-After 7s", err)
		}
	}
	if _, _, _, err := w.api.UpdateMessageContext(ctx, "C0ALERTS", ts, slack.MsgOptionText("status 2", false)); err != nil {
		t.Errorf("third update: %v", err)
	}
	if n := w.s.Served429("chat.update"); n != 2 {
		t.Errorf("Served429 = %d, want 2", n)
	}

	w.s.FailNext("users.info", 1, slacktest.Fault{Status: http.StatusServiceUnavailable})
	_, err = w.api.GetUserInfoContext(ctx, "U0ALICE")
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Errorf("users.info: %v, want a 503", err)
	}
}

func TestEnforcedRateLimitsFollowTheClock(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	w.s.EnforceRateLimits = true

	// chat.postMessage: a burst of 3, then one a second per channel.
	for i := range 3 {
		if _, _, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("burst", false)); err != nil {
			t.Fatalf("post %d of the burst: %v", i, err)
		}
	}
	_, _, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("one too many", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("fourth post: %v, want 429 with Retry-After 1s", err)
	}
	w.clock.Advance(time.Second)
	if _, _, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("after a second", false)); err != nil {
		t.Errorf("post after a second: %v", err)
	}
	if n := w.s.Served429(""); n != 1 {
		t.Errorf("Served429 = %d, want 1", n)
	}
}

func TestResponseURLRepliesPrivately(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	d := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: "help", User: "U0ALICE", Channel: "C0OTHER"})

	// The bot is not in C0OTHER; a response_url works there all the same.
	_, _, err := w.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(d.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("usage", false))
	if err != nil {
		t.Fatalf("post to response_url: %v", err)
	}
	got, err := d.WaitResponses(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Text != "usage" || got[0].ResponseType != "ephemeral" {
		t.Errorf("response = %+v", got[0])
	}
	if h := w.s.History("C0OTHER", "U0ALICE"); len(h) != 1 || h[0].VisibleTo != "U0ALICE" {
		t.Errorf("alice sees %+v", h)
	}
	if h := w.s.History("C0OTHER", ""); len(h) != 0 {
		t.Errorf("everyone sees %+v, want nothing", h)
	}
}

func TestClickAnswersThroughTheMessagesResponseURL(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	_, ts, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("offer", false), slack.MsgOptionBlocks(
		slack.NewActionBlock("", slack.NewButtonBlockElement("ignore", "item-7", slack.NewTextBlockObject(slack.PlainTextType, "Ignore", false, false)))))
	if err != nil {
		t.Fatal(err)
	}
	d := w.s.Click(slacktest.BlockAction{User: "U0BOB", Channel: "C0ALERTS", MessageTS: ts, ActionID: "ignore"})
	_, _, err = w.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(d.ResponseURL), slack.MsgOptionText("Ignored by bob", false))
	if err != nil {
		t.Fatalf("replace_original: %v", err)
	}
	m, _ := w.s.Message("C0ALERTS", ts, "")
	if m.Text != "Ignored by bob" || len(m.Buttons()) != 0 || !m.Edited {
		t.Errorf("message after replace_original = %+v", m)
	}
}

func TestHeldCallsWaitUntilReleased(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	_, ts, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("before", false))
	if err != nil {
		t.Fatal(err)
	}
	hold := w.s.Hold("chat.update")
	done := make(chan error, 1)
	go func() {
		_, _, _, err := w.api.UpdateMessageContext(ctx, "C0ALERTS", ts, slack.MsgOptionText("after", false))
		done <- err
	}()
	if err := hold.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if m, _ := w.s.Message("C0ALERTS", ts, ""); m.Text != "before" {
		t.Errorf("held update applied: %q", m.Text)
	}
	hold.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m, _ := w.s.Message("C0ALERTS", ts, ""); m.Text != "after" {
		t.Errorf("released update not applied: %q", m.Text)
	}
}

func TestResponseURLRejectsWhatSlackRejects(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	d := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", User: "U0ALICE", Channel: "C0ALERTS"})
	_, _, err := w.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(d.ResponseURL), slack.MsgOptionText("x", false))
	if err == nil {
		t.Error("replace_original on a slash command's response_url was accepted")
	}
	w.rec.expectViolation(t, "without an original message")

	for i := range 5 {
		if _, _, err := w.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(d.ResponseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText("answer", false)); err != nil {
			t.Fatalf("post %d: %v", i+1, err)
		}
	}
	if _, _, err := w.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(d.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("sixth", false)); err == nil {
		t.Error("a sixth post to a response_url was accepted; Slack takes five")
	}
	late := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", User: "U0ALICE", Channel: "C0ALERTS"})
	w.clock.Advance(31 * time.Minute)
	if _, _, err := w.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(late.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("late", false)); err == nil {
		t.Error("a response_url older than 30 minutes was accepted")
	}
}
