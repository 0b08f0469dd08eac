package signontest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

func TestConformance(t *testing.T) {
	signontest.Run(t, func(t *testing.T) signontest.World {
		return &signontest.Signon{ServiceIdentity: signontest.SuiteServiceIdentity}
	})
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

func world(t *testing.T) (*signontest.Signon, *fixedClock) {
	clock := &fixedClock{time.Date(2026, 8, 18, 9, 0, 0, 0, time.UTC)}
	s := signontest.New(clock)
	s.AddAPIUser("Short URL Manager", "short-url-manager@alphagov.co.uk")
	s.AddApplication("Publishing API")
	return s, clock
}

func issue(s *signontest.Signon, intent time.Time) (flows.Issued, error) {
	return s.Issue(context.Background(), flows.IssueRequest{RunID: "r-test0001", Email: "short-url-manager@alphagov.co.uk", Application: "publishing-api", IntentAt: intent})
}

func TestZeroValueHasTheDefaultServiceIdentity(t *testing.T) {
	var s signontest.Signon
	s.AddAPIUser("Short URL Manager", "short-url-manager@alphagov.co.uk")
	s.AddApplication("Publishing API")
	got, err := issue(&s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Initiator != (flows.Initiator{Email: signontest.DefaultServiceIdentity, Service: true}) {
		t.Errorf("initiator %+v", got.Initiator)
	}
	if secrets := s.IssuedSecrets(); len(secrets) != 1 || secrets[0].Fingerprint() != got.Secret.Fingerprint() {
		t.Errorf("IssuedSecrets does not hold the issued token")
	}
}

func TestFailNextFailsOnceAndChangesNothing(t *testing.T) {
	s, clock := world(t)
	boom := errors.New("boom")
	s.FailNext = map[signon.Op]error{signon.OpIssue: boom}
	before := s.Snapshot()
	if _, err := issue(s, clock.t); !errors.Is(err, boom) {
		t.Fatalf("first Issue: %v, want the injected error", err)
	}
	if s.Snapshot() != before {
		t.Fatal("a failed call changed the double")
	}
	if _, err := issue(s, clock.t); err != nil {
		t.Fatalf("second Issue: %v", err)
	}
	if n := s.Calls(signon.OpIssue); n != 2 {
		t.Errorf("Calls = %d, want 2", n)
	}
}

func TestTimeoutNextIssueMakesTheTokenAndARetryFindsIt(t *testing.T) {
	s, clock := world(t)
	s.TimeoutNextIssue = true
	intent := clock.t
	_, err := issue(s, intent)
	if !errors.Is(err, flows.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Issue: %v, want a timeout", err)
	}
	if n := s.TokenCount("short-url-manager@alphagov.co.uk", "Publishing API"); n != 1 {
		t.Fatalf("%d tokens after the timed-out Issue, want 1", n)
	}
	clock.t = clock.t.Add(time.Minute)
	got, err := issue(s, intent)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Existing {
		t.Error("the retry made a second token")
	}
	secret, ok := s.NewestUnrevoked("Short URL Manager", "Publishing API")
	if !ok || secret.Fingerprint() != got.Secret.Fingerprint() {
		t.Error("NewestUnrevoked is not the issued token")
	}
}

func TestDelayNextEndsWithTheContext(t *testing.T) {
	s, clock := world(t)
	s.DelayNext = map[signon.Op]time.Duration{signon.OpIssue: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := s.Issue(ctx, flows.IssueRequest{RunID: "r-test0001", Email: "short-url-manager@alphagov.co.uk", Application: "Publishing API", IntentAt: clock.t})
	if !errors.Is(err, flows.ErrUnavailable) {
		t.Fatalf("Issue: %v, want unavailable", err)
	}
	if n := s.TokenCount("short-url-manager@alphagov.co.uk", "Publishing API"); n != 0 {
		t.Errorf("%d tokens, want none", n)
	}
}

func TestHoldNextStopsTheCallUntilReleased(t *testing.T) {
	s, clock := world(t)
	hold := signontest.NewHold()
	s.Locked(func() { s.HoldNext = map[signon.Op]*signontest.Hold{signon.OpIssue: hold} })
	done := make(chan error, 1)
	go func() {
		_, err := issue(s, clock.t)
		done <- err
	}()
	select {
	case <-hold.Arrived():
	case <-time.After(10 * time.Second):
		t.Fatal("the held call never arrived")
	}
	if n := s.TokenCount("short-url-manager@alphagov.co.uk", "Publishing API"); n != 0 {
		t.Fatalf("the held call made a token before it was released")
	}
	select {
	case err := <-done:
		t.Fatalf("the held call returned before it was released: %v", err)
	default:
	}
	hold.Release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the released call never returned")
	}
}

func TestNewestUnrevokedFollowsTheSyncJob(t *testing.T) {
	s, clock := world(t)
	email := "short-url-manager@alphagov.co.uk"
	_, long := s.AddToken(email, "Publishing API", clock.t.Add(-time.Hour), signon.DefaultTokenLife)
	s.AddToken(email, "Publishing API", clock.t, time.Hour) // newer, but expires first
	if got, ok := s.NewestUnrevoked("Short URL Manager", "Publishing API"); !ok || got.Fingerprint() != long.Fingerprint() {
		t.Errorf("NewestUnrevoked is not the token that expires last")
	}
	s.Suspend(email)
	if _, ok := s.NewestUnrevoked("Short URL Manager", "Publishing API"); ok {
		t.Error("a suspended user's token would be synced")
	}
}

func TestWorldBuildingMistakesPanic(t *testing.T) {
	s, _ := world(t)
	for name, f := range map[string]func(){
		"duplicate user":  func() { s.AddHumanUser("Again", "SHORT-URL-MANAGER@alphagov.co.uk") },
		"unknown user":    func() { s.Suspend("nobody@example.com") },
		"unknown app":     func() { s.TokenCount("short-url-manager@alphagov.co.uk", "Whitehall") },
		"duplicate app":   func() { s.AddApplication("Publishing API") },
		"token for ghost": func() { s.AddToken("ghost@example.com", "Publishing API", time.Now(), time.Hour) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
