package state

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// TuneClient sets the client options a Store relies on for "fail fast,
// recover by itself". Without them go-redis ignores the per-call deadline
// while it reads (a frozen server holds a call for ReadTimeout, 5s), and
// retries a refused connection for seconds before it gives up.
func TuneClient(o *redis.UniversalOptions) {
	o.ContextTimeoutEnabled = true
	o.MaxRetries = 1
	o.DialerRetries = 1
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
}
