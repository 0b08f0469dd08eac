package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/alphagov/signon-token-bot/integrations/prom"
	"github.com/alphagov/signon-token-bot/state"
)

// newRedis makes the one Redis client of the bot, standalone, Sentinel or
// Cluster as configured, tuned as the state store needs: a replica whose
// Redis is gone fails fast and says so on /readyz, and recovers by itself.
func newRedis(c RedisConfig) (redis.UniversalClient, error) {
	opt := &redis.UniversalOptions{
		Addrs: c.Addrs, MasterName: c.MasterName, Username: c.Username, Password: c.Password,
	}
	if c.URL != "" {
		u, err := redis.ParseURL(c.URL)
		if err != nil {
			return nil, err
		}
		opt.Addrs, opt.DB, opt.TLSConfig = []string{u.Addr}, u.DB, u.TLSConfig
		if opt.Username == "" {
			opt.Username = u.Username
		}
		if opt.Password == "" {
			opt.Password = u.Password
		}
	}
	state.TuneClient(opt)
	// Each connection's buffers are its largest cost, and the pool keeps
	// the connections a burst opened (20 on 2 cores): go-redis' default
	// 32 KiB each way held 1.3 MB with 1,000 runs parked. Replies larger
	// than the buffer (a batch of runs) are read straight into their own
	// bytes, so a smaller one costs a few more reads, not copies.
	opt.ReadBufferSize, opt.WriteBufferSize = redisBufferSize, redisBufferSize
	// Each new connection would otherwise send CLIENT SETINFO and CLIENT
	// MAINT_NOTIFICATIONS, which Redis before 7.2 and 8 refuses: two
	// "server" errors counted per connection on a healthy Redis. The bot
	// needs neither its library's name in CLIENT LIST nor the maintenance
	// notices of Redis Cloud and Enterprise.
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	switch {
	case c.MasterName != "":
		return redis.NewFailoverClient(opt.Failover()), nil
	case c.Cluster:
		return redis.NewClusterClient(opt.Cluster()), nil
	default:
		return redis.NewClient(opt.Simple()), nil
	}
}

// redisBufferSize is each Redis connection's read and write buffer: a
// run's record (a few KiB) fits.
const redisBufferSize = 8 << 10

// redisErrors counts the commands that failed, by kind, so that an
// operator sees a flaky Redis before runs pause on it, and logs a line
// when Redis stops answering and one when it answers again: the callers
// that fail meanwhile log at debug, so an outage is two lines, not a few
// every sweep.
type redisErrors struct {
	total *prom.CounterVec
	log   *slog.Logger
	// answering is the fast path: most commands change nothing.
	answering atomic.Bool
	mu        sync.Mutex
	// down is when Redis stopped answering, zero while it answers.
	down time.Time
}

func newRedisErrors(reg *prom.Registry, log *slog.Logger) *redisErrors {
	h := &redisErrors{log: log, total: prom.NewCounterVec(prom.CounterOpts{
		Name: "signon_token_bot_redis_errors_total",
		Help: "Redis commands and pipelines that failed, by kind (timeout, network, server).",
	}, []string{"kind"})}
	h.answering.Store(true)
	reg.MustRegister(h.total)
	return h
}

// reached notes whether a command reached Redis, and logs the change.
func (h *redisErrors) reached(ctx context.Context, ok bool, err error) {
	if h.answering.Load() == ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answering.Store(ok)
	switch {
	case !ok && h.down.IsZero():
		h.down = time.Now()
		h.log.WarnContext(ctx, "redis is not answering: rotations wait at their next step and /readyz says not ready until it is back", "err", err)
	case ok && !h.down.IsZero():
		h.log.InfoContext(ctx, "redis is answering again", "down_for", time.Since(h.down).Round(time.Millisecond).String())
		h.down = time.Time{}
	}
}

func (h *redisErrors) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && ctx.Err() == nil {
			h.total.WithLabelValues("network").Inc()
			h.reached(ctx, false, err)
		}
		return conn, err
	}
}

func (h *redisErrors) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count(ctx, err)
		return err
	}
}

func (h *redisErrors) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.count(ctx, err)
		return err
	}
}

func (h *redisErrors) count(ctx context.Context, err error) {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
	case err == nil, errors.Is(err, redis.Nil):
		h.reached(ctx, true, nil)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		h.total.WithLabelValues("timeout").Inc()
		h.reached(ctx, false, err)
	case errors.As(err, &netErr):
		h.total.WithLabelValues("network").Inc()
		h.reached(ctx, false, err)
	case redis.HasErrorPrefix(err, "NOSCRIPT"):
		// EVALSHA of a script this Redis has not cached yet (after a start
		// or a SCRIPT FLUSH): go-redis sends the script with EVAL at once.
		// Not a fault, so not counted.
		h.reached(ctx, true, nil)
	default:
		h.reached(ctx, true, nil)
		// Script answers such as a lost compare-and-set are not errors of
		// Redis; anything else Redis itself refused is.
		if _, ok := err.(redis.Error); ok {
			h.total.WithLabelValues("server").Inc()
		}
	}
}

// redisLogOnce: go-redis has one logger per process.
var redisLogOnce sync.Once

// redisLog sends go-redis's own messages (a dial failure a line, several
// a sweep during an outage) to the bot's JSON log at debug: redisErrors
// says when Redis stops and starts answering.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}
