package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

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
	switch {
	case c.MasterName != "":
		return redis.NewFailoverClient(opt.Failover()), nil
	case c.Cluster:
		return redis.NewClusterClient(opt.Cluster()), nil
	default:
		return redis.NewClient(opt.Simple()), nil
	}
}

// redisErrors counts the commands that failed, by kind, so that an
// operator sees a flaky Redis before runs pause on it.
type redisErrors struct {
	total *prometheus.CounterVec
}

func newRedisErrors(reg prometheus.Registerer) *redisErrors {
	h := &redisErrors{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signon_token_bot_redis_errors_total",
		Help: "Redis commands and pipelines that failed, by kind (timeout, network, server).",
	}, []string{"kind"})}
	reg.MustRegister(h.total)
	return h
}

func (h *redisErrors) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && ctx.Err() == nil {
			h.total.WithLabelValues("network").Inc()
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
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, context.Canceled) && ctx.Err() != nil:
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		h.total.WithLabelValues("timeout").Inc()
	case errors.As(err, &netErr):
		h.total.WithLabelValues("network").Inc()
	default:
		// Script answers such as a lost compare-and-set are not errors of
		// Redis; anything else Redis itself refused is.
		if _, ok := err.(redis.Error); ok {
			h.total.WithLabelValues("server").Inc()
		}
	}
}

// redisLogOnce: go-redis has one logger per process.
var redisLogOnce sync.Once

// redisLog sends go-redis's own messages (dial failures during an outage)
// to the bot's JSON log instead of stderr's plain text.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}
