package state_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestKeyLayoutIsClusterSafe records the keys of every command the Store
// sends while it does everything it can do, and checks that the keys of
// each script and each MGET hash to one Cluster slot.
func TestKeyLayoutIsClusterSafe(t *testing.T) {
	srv := redistest.New(t)
	rec := &keyRecorder{}
	rdb := srv.Client()
	rdb.AddHook(rec)
	exercise(t, newStore(t, rdb, state.Options{}), srv.Client())

	multi := 0
	for _, g := range rec.groups {
		for _, k := range g.keys {
			if !strings.HasPrefix(k, "stb:") {
				t.Errorf("%s touches %q, outside the prefix", g.cmd, k)
			}
		}
		if len(g.keys) < 2 {
			continue
		}
		multi++
		for _, k := range g.keys[1:] {
			if slot(k) != slot(g.keys[0]) {
				t.Errorf("%s touches %q (slot %d) and %q (slot %d) together", g.cmd, g.keys[0], slot(g.keys[0]), k, slot(k))
			}
		}
	}
	if multi < 10 {
		t.Fatalf("only %d multi-key commands were recorded; the recorder is not seeing the scripts", multi)
	}
}

// TestStoreOnRealCluster runs the same on a three-node Redis Cluster,
// which refuses a script or MGET whose keys are in different slots, and
// cross-checks the test's slot function with the server's.
func TestStoreOnRealCluster(t *testing.T) {
	cl := redistest.NewCluster(t, 3)
	rec := &keyRecorder{}
	cc := cl.Client()
	cc.AddHook(rec)
	exercise(t, newStore(t, cc, state.Options{}), cl.Client())
	ctx := ctxT(t)
	for _, g := range rec.groups {
		for _, k := range g.keys {
			want, err := cc.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := slot(k); int64(got) != want {
				t.Fatalf("slot(%q) = %d, the server says %d", k, got, want)
			}
		}
	}
}

// keyRecorder is a go-redis hook that keeps the keys of every command.
type keyRecorder struct {
	mu     sync.Mutex
	groups []keyGroup
}

type keyGroup struct {
	cmd  string
	keys []string
}

func (r *keyRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *keyRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.record(cmd)
		return next(ctx, cmd)
	}
}

func (r *keyRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			r.record(c)
		}
		return next(ctx, cmds)
	}
}

func (r *keyRecorder) record(cmd redis.Cmder) {
	args := make([]string, len(cmd.Args()))
	for i, a := range cmd.Args() {
		args[i] = fmt.Sprint(a)
	}
	name := strings.ToLower(args[0])
	var keys []string
	switch name {
	case "evalsha", "eval", "evalsha_ro", "eval_ro":
		n, _ := strconv.Atoi(args[2])
		keys = args[3 : 3+n]
	case "mget", "exists":
		keys = args[1:]
	case "cluster", "ping", "hello", "client", "info", "script", "command":
		return
	default:
		if len(args) > 1 {
			keys = args[1:2]
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = append(r.groups, keyGroup{cmd: name, keys: keys})
}

// slot is the Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key,
// or of its hash tag, modulo 16384.
func slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for _, c := range []byte(key) {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

func TestSlotFunction(t *testing.T) {
	// 12739 is CRC16/XMODEM's check value 0x31C3; the rest are from the
	// Redis Cluster specification.
	for key, want := range map[string]int{"123456789": 12739, "foo": 12182, "bar": 5061} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
	if slot("{user1000}.following") != slot("{user1000}.followers") {
		t.Error("keys with the same hash tag have different slots")
	}
	if slot("foo{}{bar}") == slot("bar") {
		t.Error("an empty first tag must hash the whole key")
	}
}
