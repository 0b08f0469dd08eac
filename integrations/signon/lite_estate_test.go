package signon_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signonlite"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// countingRunner counts the processes the client starts.
type countingRunner struct {
	signon.Runner
	runs atomic.Int64
}

func (r *countingRunner) Run(ctx context.Context, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	r.runs.Add(1)
	return r.Runner.Run(ctx, command, stdin, stdout, stderr)
}

// TestEstateOfTwoThousandTokensIsOneRailsRunner: the daily sweep's report
// on an estate of 2,000 tokens (1,000 pairs, half of them renewed twice) comes
// back whole from one process, in a fixed number of queries.
func TestEstateOfTwoThousandTokensIsOneRailsRunner(t *testing.T) {
	t.Parallel()
	lite := signonlite.Start(t)
	r := &countingRunner{Runner: lite.Runner()}
	c, err := signon.New(r, signon.Config{ServiceIdentity: signontest.SuiteServiceIdentity})
	if err != nil {
		t.Fatal(err)
	}
	const users, apps, day = 100, 10, 24 * time.Hour
	now := lite.Now().Truncate(time.Second)
	for a := range apps {
		lite.AddApplication(fmt.Sprintf("Application %02d", a))
	}
	wantExpiring, wantSuperseded := 0, 0
	for u := range users {
		email := fmt.Sprintf("api-user-%03d@alphagov.co.uk", u)
		if u%2 == 1 {
			email = fmt.Sprintf("api-user-%03d@partner.example.com", u)
		}
		lite.AddAPIUser(fmt.Sprintf("API user %03d", u), email)
		for a := range apps {
			i := u*apps + a
			in := time.Duration(i%60+1) * day
			lite.AddToken(email, fmt.Sprintf("Application %02d", a), now.Add(in-signon.DefaultTokenLife), signon.DefaultTokenLife)
			if i%2 == 0 {
				lite.AddToken(email, fmt.Sprintf("Application %02d", a), now.Add(-100*day), signon.DefaultTokenLife)
				lite.AddToken(email, fmt.Sprintf("Application %02d", a), now.Add(-time.Hour), signon.DefaultTokenLife)
				wantSuperseded += 2
			} else if in <= 30*day {
				wantExpiring++
			}
		}
	}
	start := time.Now()
	est, err := c.Estate(t.Context(), 30*day)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	expiring, superseded := 0, 0
	for _, p := range est.Pairs {
		if p.Token.ExpiresBefore(est.Now.Add(30 * day)) {
			expiring++
		}
		superseded += len(p.Superseded)
	}
	if expiring != wantExpiring || superseded != wantSuperseded || len(est.Pairs) != wantExpiring+wantSuperseded/2 {
		t.Errorf("estate: %d pairs, %d expiring, %d superseded; want %d expiring and %d superseded", len(est.Pairs), expiring, superseded, wantExpiring, wantSuperseded)
	}
	// The alert's query, the one call a sweep would otherwise make, for
	// scale: both times include booting Rails.
	start = time.Now()
	if _, err := c.Expiring(t.Context(), 30*day); err != nil {
		t.Fatal(err)
	}
	alert := time.Since(start)
	if n := r.runs.Load(); n != 2 {
		t.Errorf("the estate and the expiring op took %d rails runner processes, want 2", n)
	}
	t.Logf("estate of %d tokens: %d pairs reported by one rails runner in %v (the alert's expiring op: %v)", users*apps+wantSuperseded, len(est.Pairs), took.Round(time.Millisecond), alert.Round(time.Millisecond))
}
