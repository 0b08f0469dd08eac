package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestRestartKeepsData checks the contract the outage tests rely on: Stop
// makes the address refuse connections, Start brings the same data back on
// the same address, and Flush empties it.
func TestRestartKeepsData(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *redistest.Server{
		"redis-server": redistest.New,
		"miniredis":    redistest.NewMini,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := start(t)
			c := s.Client()
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			addr := s.Addr()
			s.Stop()
			if err := c.Get(ctx, "k").Err(); err == nil {
				t.Fatal("GET succeeded against a stopped server")
			}
			s.Start()
			if s.Addr() != addr {
				t.Fatalf("restarted on %s, want %s", s.Addr(), addr)
			}
			if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
				t.Fatalf("after restart GET k = %q, %v; want v", got, err)
			}
			s.Flush()
			if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
				t.Fatalf("after flush GET k: %v, want redis.Nil", err)
			}
		})
	}
}

func TestClusterServesEverySlot(t *testing.T) {
	ctx := context.Background()
	cl := redistest.NewCluster(t, 3)
	c := cl.Client()
	owners := map[string]bool{}
	for i := range 30 {
		k := fmt.Sprintf("key-%d", i)
		if err := c.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		n, err := c.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		owners[n.Options().Addr] = true
	}
	if len(owners) != 3 {
		t.Fatalf("30 keys landed on %d nodes, want all 3", len(owners))
	}
}

// TestProcess checks the harness's Redis: Stop and Start keep the data,
// Lose and Start bring it back empty, on the same address each time.
func TestProcess(t *testing.T) {
	bin := os.Getenv(redistest.EnvServer)
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; run `make test`", redistest.EnvServer)
		}
		t.Skipf("%s is not set; run `make test`", redistest.EnvServer)
	}
	p, err := redistest.StartProcess(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := p.Addr()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if p.Running() || c.Get(ctx, "k").Err() == nil {
		t.Fatal("the stopped server still answers")
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" || p.Addr() != addr {
		t.Fatalf("after Stop and Start: GET k = %q, %v on %s; want v on %s", got, err, p.Addr(), addr)
	}
	if err := p.Lose(); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after Lose and Start: GET k: %v, want redis.Nil", err)
	}
}
