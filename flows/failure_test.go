package flows

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

// What a channel shows of a failure: the step the flows were at, what
// failed in plain words, and an id; the chain, addresses and URLs only in
// the log, under that id.
func TestFailureIsPlainAndLoggedUnderItsID(t *testing.T) {
	refused := `Get "https://127.0.0.1:1/apis/apps/v1": dial tcp 127.0.0.1:1: connect: connection refused`
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("read Secret signon-token-a-b: %w: %s", ErrUnavailable, refused), "Could not read Secret signon-token-a-b: the cluster did not answer"},
		{&signonError{fmt.Errorf("signon tokens: %w: could not run rails runner: get deployment apps/signon: %s", ErrUnavailable, refused)}, "Signon did not answer"},
		{fmt.Errorf("issue a token: %w", &signonError{fmt.Errorf("signon issue: %w: %s", ErrTimeout, refused)}), "Could not issue a token: Signon timed out"},
		{fmt.Errorf("%w: %s", ErrTimeout, refused), "The cluster timed out"},
		{fmt.Errorf("wait for Deployment x to roll out: %w", ErrTimeout), "Could not wait for Deployment x to roll out: the cluster timed out"},
		{errors.New(refused), "Something went wrong on my side"},
		{fmt.Errorf("dial 10.0.0.1:6379: %w", errors.New("refused")), "Something went wrong on my side"},
	} {
		var logs bytes.Buffer
		got := Failure(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), tc.err)
		m := regexp.MustCompile(`^(.*) \(error (e-[a-z0-9]+); the details are in the bot's logs\)$`).FindStringSubmatch(got)
		if m == nil || m[1] != tc.want {
			t.Errorf("Failure(%q) = %q, want %q and an id", tc.err, got, tc.want)
			continue
		}
		for _, internal := range []string{"127.0.0.1", "10.0.0.1", "https://", "dial", "rails runner"} {
			if strings.Contains(got, internal) {
				t.Errorf("Failure(%q) shows %q: %q", tc.err, internal, got)
			}
		}
		addr := regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`).FindString(tc.err.Error())
		if !strings.Contains(logs.String(), "error_id="+m[2]) || !strings.Contains(logs.String(), addr) {
			t.Errorf("the log does not hold %s with the details: %s", m[2], logs.String())
		}
	}
}
