package main

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// newRedis makes the one Redis client of the bot, standalone, Sentinel or
// Cluster as configured. Its timeouts are short: a replica whose Redis is
// gone should say so on /readyz, not hang.
func newRedis(c RedisConfig) (redis.UniversalClient, error) {
	const (
		dial    = 2 * time.Second
		timeout = 2 * time.Second
	)
	if c.URL != "" {
		opt, err := redis.ParseURL(c.URL)
		if err != nil {
			return nil, err
		}
		if c.Username != "" {
			opt.Username = c.Username
		}
		if c.Password != "" {
			opt.Password = c.Password
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = dial, timeout, timeout
		opt.ContextTimeoutEnabled = true
		return redis.NewClient(opt), nil
	}
	opt := &redis.UniversalOptions{
		Addrs: c.Addrs, MasterName: c.MasterName, Username: c.Username, Password: c.Password,
		DialTimeout: dial, ReadTimeout: timeout, WriteTimeout: timeout, ContextTimeoutEnabled: true,
	}
	switch {
	case c.MasterName != "":
		return redis.NewFailoverClient(opt.Failover()), nil
	case c.Cluster:
		return redis.NewClusterClient(opt.Cluster()), nil
	default:
		return redis.NewClient(opt.Simple()), nil
	}
}
