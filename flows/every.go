package flows

import (
	"context"
	"time"
)

// every calls f once per period until ctx ends or f returns true. The
// leases, the owner name and the sync lock are each kept by renewing them
// this way at a third of their time to live.
func every(ctx context.Context, period time.Duration, f func() (done bool)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if f() {
				return
			}
		}
	}
}
