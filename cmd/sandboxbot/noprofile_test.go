//go:build !profile

package main

import (
	"context"
	"strings"
	"testing"
)

// A build without the profile tag refuses a profile rather than run
// without it, and names the tag.
func TestProfilesNeedTheProfileBuild(t *testing.T) {
	for _, name := range []string{"SANDBOXBOT_CPUPROFILE", "SANDBOXBOT_MEMPROFILE"} {
		_, _, err := profile(context.Background(), func(k string) string {
			if k == name {
				return "/tmp/x.pprof"
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "-tags profile") {
			t.Errorf("%s set: error %v, want one naming it and -tags profile", name, err)
		}
	}
	ctx := context.Background()
	got, finish, err := profile(ctx, func(string) string { return "" })
	if err != nil || got != ctx || finish() != nil {
		t.Errorf("no profile asked for: context changed %v, error %v", got != ctx, err)
	}
}
