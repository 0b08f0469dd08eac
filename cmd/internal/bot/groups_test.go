package bot

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

func TestAlertGroupsRememberUntilTaken(t *testing.T) {
	redis := redistest.New(t)
	g := alertGroups{rdb: redis.Client(), prefix: "test", ttl: time.Hour}
	ctx := context.Background()
	for _, id := range []string{"o-1", "o-2"} {
		if err := g.Remember(ctx, "C0ALERTS", "production", id); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Remember(ctx, "C0ALERTS", "integration", "o-3"); err != nil {
		t.Fatal(err)
	}
	if got, err := g.Take(ctx, "C0ALERTS", "production"); err != nil || !slices.Equal(got, []string{"o-1", "o-2"}) {
		t.Fatalf("take = %v, %v", got, err)
	}
	if got, err := g.Take(ctx, "C0ALERTS", "production"); err != nil || len(got) != 0 {
		t.Fatalf("second take = %v, %v: a group is forgotten once taken", got, err)
	}
	if ttl := redis.Client().PTTL(ctx, g.key("C0ALERTS", "integration")).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("a group lives %v, want the retention", ttl)
	}
	redis.Stop()
	if err := g.Remember(ctx, "C0ALERTS", "production", "o-4"); !errors.Is(err, flows.ErrUnavailable) {
		t.Errorf("with Redis down: %v, want ErrUnavailable", err)
	}
}
