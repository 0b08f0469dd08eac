package main

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// killer SIGKILLs the bot at the n-th kill point after it is armed. The
// kill points are where a crash loses the most: the sandbox has made a
// change in Signon or the cluster and not yet answered; Redis has stored
// a run or offer record; the fake Slack has received a Web API call and
// not yet answered. It also counts the points, so that a rotation without
// kills tells how many a rotation has.
type killer struct {
	mu     sync.Mutex
	target int // 0: disarmed
	seen   int
	// kind, when set, makes only points of that kind count.
	kind string
	// kill kills the bot now, and is told where; it must not call the
	// killer.
	kill func(point string)
	// counting counts every point by kind, armed or not.
	counting map[string]int
}

// arm fires kill at the n-th point from now; with a kind, at the n-th
// point of that kind.
func (k *killer) arm(n int, kind string, kill func(point string)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.target, k.seen, k.kind, k.kill = n, 0, kind, kill
}

// disarm stops any kill that has not fired.
func (k *killer) disarm() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.target, k.kill = 0, nil
}

// count starts counting points by kind; stop returns the counts.
func (k *killer) count() (stop func() map[string]int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.counting = map[string]int{}
	return func() map[string]int {
		k.mu.Lock()
		defer k.mu.Unlock()
		c := k.counting
		k.counting = nil
		return c
	}
}

// point is one kill point of the given kind. If it is the armed one, the
// bot is dead when point returns true: the caller's reply goes nowhere.
func (k *killer) point(kind string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.counting != nil {
		k.counting[kind]++
	}
	if k.target == 0 || (k.kind != "" && kind != k.kind) {
		return false
	}
	k.seen++
	if k.seen < k.target {
		return false
	}
	kill := k.kill
	k.target, k.kill = 0, nil
	if kill != nil {
		kill(kind)
	}
	return true
}

// watchWrites makes every write of a run or offer record a kill point.
// Redis tells of the write after it, so the kill lands just after the
// write, wherever the bot has got to meanwhile. The subscription
// reconnects by itself after an outage.
func (h *harness) watchWrites(ctx context.Context) {
	prefix := "__keyspace@0__:" + statePfx + ":{" + statePfx + "}:"
	ps := h.rdb.PSubscribe(ctx, prefix+"run:*", prefix+"offer:*")
	watchSets(ctx, ps, func(channel string) {
		record, _, _ := strings.Cut(strings.TrimPrefix(channel, prefix), ":")
		h.killer.point("redis " + record + " write")
	})
}

// watchSets calls point with the channel of each SET the subscription
// tells of, until ctx ends, and closes it.
func watchSets(ctx context.Context, ps *redis.PubSub, point func(channel string)) {
	defer ps.Close()
	ch := ps.Channel(redis.WithChannelSize(1000))
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if msg.Payload == "set" {
				point(msg.Channel)
			}
		}
	}
}
