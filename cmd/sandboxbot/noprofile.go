//go:build !profile

package main

import (
	"context"
	"fmt"
)

// profile refuses a profile this build cannot write, rather than run
// without the profile the caller asked for.
func profile(ctx context.Context, getenv func(string) string) (context.Context, func() error, error) {
	for _, name := range []string{"SANDBOXBOT_CPUPROFILE", "SANDBOXBOT_MEMPROFILE"} {
		if getenv(name) != "" {
			return nil, nil, fmt.Errorf("%s: this sandboxbot was built without profiling; build it with -tags profile", name)
		}
	}
	return ctx, func() error { return nil }, nil
}
