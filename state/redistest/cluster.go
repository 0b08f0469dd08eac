package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// slots is the number of hash slots of a Redis Cluster.
const slots = 16384

// Cluster is a Redis Cluster of real servers with every slot assigned and
// no replicas.
type Cluster struct {
	t     testing.TB
	nodes []*node
}

// NewCluster starts size masters, splits the slots between them, joins
// them, and returns once every node reports the cluster ok.
func NewCluster(t testing.TB, size int) *Cluster {
	t.Helper()
	if size < 1 {
		t.Fatalf("redistest: a cluster of %d nodes", size)
	}
	bin := binary(t)
	c := &Cluster{t: t}
	for range size {
		c.nodes = append(c.nodes, startNode(t, bin, t.TempDir(), []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	per := slots / size
	for i, n := range c.nodes {
		lo, hi := i*per, (i+1)*per-1
		if i == size-1 {
			hi = slots - 1
		}
		args := []any{"CLUSTER", "ADDSLOTS"}
		for s := lo; s <= hi; s++ {
			args = append(args, s)
		}
		if err := c.do(ctx, n, args...); err != nil {
			t.Fatalf("redistest: assign slots %d-%d to %s: %v", lo, hi, n.addr, err)
		}
		if i > 0 {
			if err := c.do(ctx, n, "CLUSTER", "MEET", "127.0.0.1", port(c.nodes[0].addr)); err != nil {
				t.Fatalf("redistest: %s meet %s: %v", n.addr, c.nodes[0].addr, err)
			}
		}
	}
	if err := c.waitOK(ctx); err != nil {
		t.Fatalf("redistest: cluster of %d did not form within %v: %v", size, readyTimeout, err)
	}
	return c
}

// Addrs are the nodes' host:port.
func (c *Cluster) Addrs() []string {
	var a []string
	for _, n := range c.nodes {
		a = append(a, n.addr)
	}
	return a
}

// Client returns a new cluster client, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 c.Addrs(),
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
	})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func (c *Cluster) do(ctx context.Context, n *node, args ...any) error {
	cl := redis.NewClient(&redis.Options{Addr: n.addr})
	defer cl.Close()
	return cl.Do(ctx, args...).Err()
}

// waitOK polls CLUSTER INFO until every node knows every other and has
// every slot covered: gossip has converged.
func (c *Cluster) waitOK(ctx context.Context) error {
	want := []string{
		"cluster_state:ok",
		"cluster_slots_assigned:16384",
		fmt.Sprintf("cluster_known_nodes:%d", len(c.nodes)),
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var last string
		ok := true
		for _, n := range c.nodes {
			cl := redis.NewClient(&redis.Options{Addr: n.addr})
			info, err := cl.ClusterInfo(ctx).Result()
			cl.Close()
			if err != nil {
				return fmt.Errorf("cluster info of %s: %w", n.addr, err)
			}
			for _, w := range want {
				if !strings.Contains(info, w+"\r\n") {
					ok, last = false, fmt.Sprintf("%s lacks %q", n.addr, w)
				}
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s", last)
		case <-tick.C:
		}
	}
}
