package signontest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// A token about to expire, found by the alert's rule and rotated once.
func Example() {
	ctx := context.Background()
	s := signontest.New(nil)
	s.AddAPIUser("Short URL Manager", "short-url-manager@alphagov.co.uk")
	s.AddApplication("Publishing API")
	s.AddToken("short-url-manager@alphagov.co.uk", "Publishing API", time.Now().Add(10*24*time.Hour-signon.DefaultTokenLife), signon.DefaultTokenLife)

	rows, _ := s.Expiring(ctx, 14*24*time.Hour)
	fmt.Println(len(rows), rows[0].User.Name, rows[0].Application.Slug)

	intent := time.Now()
	req := flows.IssueRequest{RunID: "r-example1", Email: "short-url-manager@alphagov.co.uk", Application: "publishing-api", IntentAt: intent}
	first, _ := s.Issue(ctx, req)
	again, _ := s.Issue(ctx, req)
	fmt.Println(first.Existing, again.Existing, again.Token.ID == first.Token.ID, first.Secret)
	fmt.Println(s.TokenCount("short-url-manager@alphagov.co.uk", "Publishing API"))
	// Output:
	// 1 Short URL Manager publishing-api
	// false true true [token redacted]
	// 2
}
