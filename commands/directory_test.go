package commands_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

func TestCachedDirectoryAsksSlackOncePerTTL(t *testing.T) {
	fake := slacktest.New(t)
	fake.AddUser(slacktest.User{ID: alice, Name: "alice", Email: "alice@example.gov.uk"})
	fake.AddUserGroup("S0OPS", alice)
	clock := &flowstest.Clock{}
	dir := &commands.CachedDirectory{Directory: slack.New(slack.Config{BotToken: fake.BotToken, AppToken: fake.AppToken, APIURL: fake.URL()}), Clock: clock, TTL: time.Minute}
	ctx := context.Background()
	for range 3 {
		if m, err := dir.GroupMembers(ctx, "S0OPS"); err != nil || !slices.Equal(m, []string{alice}) {
			t.Fatalf("members = %v, %v", m, err)
		}
		if e, err := dir.Email(ctx, alice); err != nil || e != "alice@example.gov.uk" {
			t.Fatalf("email = %q, %v", e, err)
		}
	}
	if n := len(fake.Calls("usergroups.users.list", "users.info")); n != 2 {
		t.Errorf("%d calls to Slack, want one of each", n)
	}
	// A person removed from the group loses their rights once the TTL is up.
	fake.AddUserGroup("S0OPS")
	clock.Advance(time.Minute)
	if m, _ := dir.GroupMembers(ctx, "S0OPS"); len(m) != 0 {
		t.Errorf("after the TTL the group is %v, want empty", m)
	}
	// Failures are not remembered.
	if _, err := dir.GroupMembers(ctx, "S0GONE"); err == nil {
		t.Fatal("an unknown group has members")
	}
	fake.AddUserGroup("S0GONE", alice)
	if m, err := dir.GroupMembers(ctx, "S0GONE"); err != nil || len(m) != 1 {
		t.Errorf("after a failure: %v, %v", m, errors.Unwrap(err))
	}
}
