package commands_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// digestSlack records the digest's posts and private answers.
type digestSlack struct {
	mu      sync.Mutex
	posts   []string
	answers []string
}

func (s *digestSlack) PostMessage(_ context.Context, channel string, _ ...slackapi.MsgOption) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts = append(s.posts, channel)
	return "1764147600.000100", nil
}

func (s *digestSlack) Respond(_ context.Context, _ string, r slack.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, r.Text)
	return nil
}

func (s *digestSlack) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answers[len(s.answers)-1]
}

// TestDigestButtonsCheckTheirValues: a click is answered privately and
// changes nothing; a forged value, a pair the sweep did not report, an old
// digest and a person who may not start runs are each told why.
func TestDigestButtonsCheckTheirValues(t *testing.T) {
	store, srv, rep := sweptStore(t, 5*24*time.Hour)
	ctx := t.Context()
	fake := &digestSlack{}
	d := &commands.DigestPoster{Slack: fake, Channels: map[string]string{"production": "C0DIGEST"}, Reports: store,
		MayStart: func(_ context.Context, env, user string) (bool, error) {
			return env == "production" && user == "U0ALICE", nil
		}}
	r := commands.NewRouter(commands.RouterConfig{Responder: fake})
	d.Register(r)

	if err := d.Digest(ctx, rep); err != nil || len(fake.posts) != 1 || fake.posts[0] != "C0DIGEST" {
		t.Fatalf("digest posts %q (%v), want one in C0DIGEST", fake.posts, err)
	}
	value := func(day string, pairs ...blocks.DigestPair) string {
		return blocks.DigestValue(blocks.DigestTarget{Environment: "production", Day: day, Why: daily.WhyExternal, Pairs: pairs})
	}
	before := srv.Client().Get(ctx, "stb:{stb}:sweep:production").Val()
	for _, c := range []struct{ user, value, want, channel string }{
		{"U0ALICE", "o-abc|i-def", "was not made by the bot's daily digest", ""},
		{"U0ALICE", strings.Replace(value("2026-11-26", blocks.DigestPair{User: 12, Application: 3}), "production", "staging", 1), "was not made by the bot's daily digest", ""},
		{"U0ALICE", value("2026-11-26", blocks.DigestPair{User: 99, Application: 3}), "names tokens its sweep did not report", ""},
		{"U0ALICE", value("2026-11-25", blocks.DigestPair{User: 12, Application: 3}), "is not the latest one", ""},
		{"U0MALLORY", value("2026-11-26", blocks.DigestPair{User: 12, Application: 3}), "not among the configured starters", ""},
		{"U0ALICE", value("2026-11-26", blocks.DigestPair{User: 12, Application: 3}), "was not made by the bot's daily digest", "C0ELSEWHERE"},
	} {
		r.HandleEnvelope(ctx, slack.Envelope{Interaction: &slackapi.InteractionCallback{Type: slackapi.InteractionTypeBlockActions,
			User: slackapi.User{ID: c.user}, Channel: slackapi.Channel{GroupConversation: slackapi.GroupConversation{Conversation: slackapi.Conversation{ID: c.channel}}}, ResponseURL: "https://hooks.slack.com/actions/T/1/x",
			ActionCallback: slackapi.ActionCallbacks{BlockActions: []*slackapi.BlockAction{{ActionID: blocks.ActionDigestRotateAll + ":external", Value: c.value, ActionTs: c.user + c.value}}}}})
		if got := fake.last(); !strings.Contains(got, c.want) || !strings.Contains(got, "Nothing was done") {
			t.Errorf("click by %s on %q answered %q, want %q", c.user, c.value, got, c.want)
		}
	}
	if after := srv.Client().Get(ctx, "stb:{stb}:sweep:production").Val(); after != before || len(fake.posts) != 1 {
		t.Errorf("a click changed the sweep's record or posted")
	}
}

// sweptStore is a real Redis holding a sweep of production on 26 Nov
// 2026 09:00 that reported one external user's token expiring in in.
func sweptStore(t *testing.T, in time.Duration) (*state.Store, *redistest.Server, *daily.Report) {
	t.Helper()
	srv := redistest.New(t)
	store, err := state.New(srv.Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := flowstest.Start
	rep := &daily.Report{Environment: "production", Day: "2026-11-26", At: now, SignonNow: now, Within: 30 * 24 * time.Hour, HomeWithin: 60 * 24 * time.Hour,
		Pairs: []flows.EstatePair{{User: flows.APIUser{ID: 12, Name: "Partner Feed", Email: "feed@partner.example.com"}, Application: flows.Application{ID: 3, Name: "Content Store"},
			Synced: true, Token: flows.Token{ID: 40, ExpiresAt: now.Add(in)}}},
		Whys: []daily.Why{daily.WhyExternal}}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := store.ClaimSweep(t.Context(), "production", "test", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := store.FinishSweep(t.Context(), "production", "test", rep.Day, raw); err != nil {
		t.Fatal(err)
	}
	return store, srv, rep
}
