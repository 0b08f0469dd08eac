package signontest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// World is a Signon the conformance suite can furnish and inspect: the
// double, or the Client on signon-lite.
type World interface {
	flows.Signon
	Estate(ctx context.Context, within time.Duration) (flows.Estate, error)
	// Now is the Signon's clock.
	Now() time.Time
	AddAPIUser(name, email string) flows.APIUser
	// AddHumanUser adds a person with Signon's normal role;
	// AddSuperadmin one with the role that may create and revoke tokens.
	AddHumanUser(name, email string)
	AddSuperadmin(name, email string)
	Lock(email string)
	AddApplication(name string) flows.Application
	RetireApplication(name string)
	AddToken(email, application string, created time.Time, life time.Duration) (flows.Token, token.Secret)
	SetLastSynced(email, application string, at time.Time)
	// Suspend suspends a user and revokes all of its tokens.
	Suspend(email string)
	// DeleteExpired is Signon's Sunday clean-up; AutoRenew its 01:00
	// renewal of internal users' tokens.
	DeleteExpired()
	AutoRenew()
	TokenCount(email, application string) int
	HasSignin(email, application string) bool
	Events() []Event
	Snapshot() string
}

// SuiteServiceIdentity is the service identity the suite's worlds must be
// configured with; the suite adds its account.
const SuiteServiceIdentity = "token-bot@digital.cabinet-office.gov.uk"

// The suite's world: two API users, a person, a superadmin and three
// applications.
const (
	shortURL   = "short-url-manager@alphagov.co.uk"
	tagger     = "content-tagger@alphagov.co.uk"
	person     = "ada.lovelace@digital.cabinet-office.gov.uk"
	admin      = "grace.hopper@digital.cabinet-office.gov.uk"
	pubAPI     = "Publishing API"
	store      = "Content Store"
	search     = "Search API"
	day        = 24 * time.Hour
	twoYears   = signon.DefaultTokenLife
	skewMargin = signon.DefaultClockSkew
)

// behaviour is one row of the table.
type behaviour struct {
	Name string
	Test func(t *testing.T, w World, s *seen)
}

// seen are the plaintexts a case has met, so that every error can be
// checked for them.
type seen struct{ all []token.Secret }

func (s *seen) add(x token.Secret) { s.all = append(s.all, x) }

// Run runs every behaviour of the table against a fresh world from newWorld, whose
// service identity must be SuiteServiceIdentity. Cases run in parallel.
func Run(t *testing.T, newWorld func(t *testing.T) World) {
	for _, c := range append(behaviours(), estateBehaviours()...) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.AddHumanUser("Token bot", SuiteServiceIdentity)
			w.AddAPIUser("Short URL Manager", shortURL)
			w.AddAPIUser("Content Tagger", tagger)
			w.AddHumanUser("Ada Lovelace", person)
			w.AddSuperadmin("Grace Hopper", admin)
			w.AddApplication(pubAPI)
			w.AddApplication(store)
			w.AddApplication(search)
			c.Test(t, w, &seen{})
		})
	}
}

// behaviours is the table. Every refusal is checked to change nothing and
// to quote no token.
func behaviours() []behaviour {
	return []behaviour{
		{"find an API user by email, in any case", func(t *testing.T, w World, _ *seen) {
			u := must(w.FindAPIUser(ctx(t), shortURL))(t)
			if u.ID <= 0 || u.Name != "Short URL Manager" || u.Email != shortURL || u.Suspended {
				t.Fatalf("FindAPIUser = %+v", u)
			}
			if again := must(w.FindAPIUser(ctx(t), strings.ToUpper(shortURL)))(t); again != u {
				t.Fatalf("upper-case email found %+v, want %+v", again, u)
			}
		}},
		{"a suspended API user is found and says so", func(t *testing.T, w World, _ *seen) {
			w.Suspend(tagger)
			if u := must(w.FindAPIUser(ctx(t), tagger))(t); !u.Suspended {
				t.Fatalf("FindAPIUser = %+v, want suspended", u)
			}
			if set := must(w.Tokens(ctx(t), tagger, pubAPI))(t); !set.User.Suspended {
				t.Fatalf("Tokens user = %+v, want suspended", set.User)
			}
		}},
		{"find refuses a person, an unknown email and a malformed one", func(t *testing.T, w World, s *seen) {
			err := refused(t, w, s, flows.ErrUnknownAPIUser, signon.KindUnknownAPIUser, func() error { _, err := w.FindAPIUser(ctx(t), person); return err })
			if !strings.Contains(err.Error(), "not an API user") {
				t.Errorf("error %q does not say the user is not an API user", err)
			}
			refused(t, w, s, flows.ErrUnknownAPIUser, signon.KindUnknownAPIUser, func() error { _, err := w.FindAPIUser(ctx(t), "nobody@alphagov.co.uk"); return err })
			for _, bad := range []string{"", "not-an-email", "Ada <ada@example.com>", "a b@example.com"} {
				refused(t, w, s, flows.ErrBadInput, signon.KindBadInput, func() error { _, err := w.FindAPIUser(ctx(t), bad); return err })
			}
		}},
		{"tokens are listed newest first, revoked ones too, with fingerprints and expiry", func(t *testing.T, w World, s *seen) {
			now := w.Now().Truncate(time.Second)
			old, oldSecret := w.AddToken(shortURL, pubAPI, now.Add(-700*day), twoYears)
			mid, midSecret := w.AddToken(shortURL, pubAPI, now.Add(-20*day), twoYears)
			recent, recentSecret := w.AddToken(shortURL, pubAPI, now.Add(-time.Hour), 90*day)
			s.add(oldSecret)
			s.add(midSecret)
			s.add(recentSecret)
			w.AddToken(shortURL, store, now.Add(-time.Hour), twoYears)
			w.AddToken(tagger, pubAPI, now.Add(-time.Hour), twoYears)
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: old.ID, Initiator: person}))(t)

			set := must(w.Tokens(ctx(t), shortURL, pubAPI))(t)
			if set.User.Email != shortURL || set.Application.Name != pubAPI || set.Application.Slug != "publishing-api" || set.Application.ID <= 0 {
				t.Fatalf("Tokens user/application = %+v / %+v", set.User, set.Application)
			}
			want := []flows.Token{recent, mid, old}
			if len(set.Tokens) != len(want) {
				t.Fatalf("Tokens listed %d tokens, want %d: %+v", len(set.Tokens), len(want), set.Tokens)
			}
			for i, got := range set.Tokens {
				w := want[i]
				if got.ID != w.ID || !got.CreatedAt.Equal(w.CreatedAt) || !got.ExpiresAt.Equal(w.ExpiresAt) || got.Fingerprint != w.Fingerprint {
					t.Errorf("token %d = %+v, want %+v", i, got, w)
				}
				if got.Revoked() != (w.ID == old.ID) {
					t.Errorf("token %d revoked = %v", got.ID, got.Revoked())
				}
			}
			if set.Tokens[0].Fingerprint != recentSecret.Fingerprint() {
				t.Errorf("fingerprint is not the token's")
			}
			if !set.LastSyncedAt.IsZero() {
				t.Errorf("LastSyncedAt = %v, want zero", set.LastSyncedAt)
			}
		}},
		{"applications are found by Signon name or slug, and a user with none has an empty list", func(t *testing.T, w World, _ *seen) {
			byName := must(w.Tokens(ctx(t), tagger, store))(t)
			bySlug := must(w.Tokens(ctx(t), tagger, "content-store"))(t)
			if byName.Application != bySlug.Application || byName.Application.Name != store {
				t.Fatalf("by name %+v, by slug %+v", byName.Application, bySlug.Application)
			}
			if byName.Tokens == nil || len(byName.Tokens) != 0 {
				t.Fatalf("Tokens = %#v, want an empty list", byName.Tokens)
			}
		}},
		{"last synced at is reported per user and application", func(t *testing.T, w World, _ *seen) {
			at := w.Now().Add(-3 * day).Truncate(time.Second)
			tok, _ := w.AddToken(shortURL, pubAPI, w.Now().Add(-700*day), twoYears)
			w.SetLastSynced(shortURL, pubAPI, at)
			if got := must(w.Tokens(ctx(t), shortURL, pubAPI))(t).LastSyncedAt; !got.Equal(at) {
				t.Errorf("LastSyncedAt = %v, want %v", got, at)
			}
			if got := must(w.Tokens(ctx(t), shortURL, store))(t).LastSyncedAt; !got.IsZero() {
				t.Errorf("other application's LastSyncedAt = %v, want zero", got)
			}
			rows := must(w.Expiring(ctx(t), 60*day))(t)
			if len(rows) != 1 || rows[0].Token.ID != tok.ID || !rows[0].LastSyncedAt.Equal(at) {
				t.Errorf("Expiring = %+v, want token %d synced at %v", rows, tok.ID, at)
			}
		}},
		{"tokens refuse an unknown application, an unknown user and bad names", func(t *testing.T, w World, s *seen) {
			refused(t, w, s, flows.ErrUnknownApplication, signon.KindUnknownApplication, func() error { _, err := w.Tokens(ctx(t), shortURL, "Whitehall"); return err })
			refused(t, w, s, flows.ErrUnknownAPIUser, signon.KindUnknownAPIUser, func() error { _, err := w.Tokens(ctx(t), "nobody@alphagov.co.uk", pubAPI); return err })
			for _, bad := range []string{"", "  ", "publishing\napi"} {
				refused(t, w, s, flows.ErrBadInput, signon.KindBadInput, func() error { _, err := w.Tokens(ctx(t), shortURL, bad); return err })
			}
		}},
		{"expiring follows the alert's rule: the newest unrevoked token per user and application", func(t *testing.T, w World, s *seen) {
			now := w.Now().Truncate(time.Second)
			soon, _ := w.AddToken(shortURL, pubAPI, now.Add(10*day-twoYears), twoYears)
			w.AddToken(shortURL, store, now.Add(10*day-twoYears), twoYears) // renewed below
			w.AddToken(shortURL, store, now.Add(-day), twoYears)
			w.AddToken(tagger, pubAPI, now.Add(20*day-twoYears), twoYears) // outside the window
			expired, _ := w.AddToken(tagger, store, now.Add(-3*day-twoYears), twoYears)
			w.AddToken(person, pubAPI, now.Add(5*day-twoYears), twoYears) // not an API user
			gone, _ := w.AddToken(shortURL, search, now.Add(2*day-twoYears), twoYears)
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: search, TokenID: gone.ID}))(t)

			rows := must(w.Expiring(ctx(t), 14*day))(t)
			if len(rows) != 2 {
				t.Fatalf("Expiring = %d rows, want 2: %+v", len(rows), rows)
			}
			if r := rows[0]; r.Token.ID != expired.ID || r.User.Email != tagger || r.Application.Slug != "content-store" || !r.Token.ExpiresAt.Equal(expired.ExpiresAt) {
				t.Errorf("first row = %+v, want the expired token %d of %s", r, expired.ID, tagger)
			}
			if r := rows[1]; r.Token.ID != soon.ID || r.User.Email != shortURL || r.User.Name != "Short URL Manager" || r.Application.Name != pubAPI {
				t.Errorf("second row = %+v, want token %d of %s", r, soon.ID, shortURL)
			}
			if wide := must(w.Expiring(ctx(t), 30*day))(t); len(wide) != 3 {
				t.Errorf("a 30-day window found %d rows, want 3", len(wide))
			}
		}},
		{"expiring refuses a window that is not positive", func(t *testing.T, w World, s *seen) {
			for _, within := range []time.Duration{0, -day} {
				refused(t, w, s, flows.ErrBadInput, signon.KindBadInput, func() error { _, err := w.Expiring(ctx(t), within); return err })
			}
		}},
		{"issue makes a two-year token as Signon's UI does", func(t *testing.T, w World, s *seen) {
			before := w.Now()
			count := w.TokenCount(shortURL, pubAPI)
			run := newRun()
			got := must(w.Issue(ctx(t), flows.IssueRequest{RunID: run, Requester: "U0ALICE", Email: shortURL, Application: "publishing-api", IntentAt: before, Initiator: admin}))(t)
			s.add(got.Secret)
			after := w.Now()
			if got.Existing || got.Initiator != (flows.Initiator{Email: admin}) {
				t.Errorf("Issue = existing %v, initiator %+v", got.Existing, got.Initiator)
			}
			if !token.ValidFormat(got.Secret.Reveal()) || len(got.Secret.Reveal()) != 43 || got.Secret.Fingerprint() != got.Token.Fingerprint {
				t.Errorf("issued token %s is not in Signon's format or does not match its fingerprint", got.Token.Fingerprint)
			}
			if got.Token.CreatedAt.Before(before.Add(-time.Second)) || got.Token.CreatedAt.After(after.Add(time.Second)) {
				t.Errorf("created %v, not between %v and %v", got.Token.CreatedAt, before, after)
			}
			if life := got.Token.ExpiresAt.Sub(got.Token.CreatedAt); life != twoYears {
				t.Errorf("life %v, want %v", life, twoYears)
			}
			if n := w.TokenCount(shortURL, pubAPI); n != count+1 {
				t.Errorf("%d tokens, want %d", n, count+1)
			}
			if !w.HasSignin(shortURL, pubAPI) {
				t.Errorf("the API user was not granted signin")
			}
			wantEvents(t, w, Event{Name: EventGenerated, User: shortURL, Initiator: admin, Application: pubAPI, UserAgent: UserAgent,
				TrailingMessage: fmt.Sprintf("run %s for Slack user U0ALICE: token %d", run, got.Token.ID)})
			set := must(w.Tokens(ctx(t), shortURL, pubAPI))(t)
			if len(set.Tokens) == 0 || set.Tokens[0].ID != got.Token.ID {
				t.Errorf("Tokens does not list the new token first: %+v", set.Tokens)
			}
		}},
		{"issue again after the same intent returns the same token and writes nothing", func(t *testing.T, w World, s *seen) {
			intent, run := w.Now(), newRun()
			first := must(w.Issue(ctx(t), flows.IssueRequest{RunID: run, Email: shortURL, Application: pubAPI, IntentAt: intent}))(t)
			s.add(first.Secret)
			before := w.Snapshot()
			again := must(w.Issue(ctx(t), flows.IssueRequest{RunID: run, Email: shortURL, Application: pubAPI, IntentAt: intent}))(t)
			if !again.Existing || again.Token.ID != first.Token.ID || again.Secret.Fingerprint() != first.Secret.Fingerprint() {
				t.Errorf("re-issue = token %d existing %v, want token %d existing", again.Token.ID, again.Existing, first.Token.ID)
			}
			if w.Snapshot() != before {
				t.Errorf("the re-issue wrote to Signon")
			}
			if n := w.TokenCount(shortURL, pubAPI); n != 1 {
				t.Errorf("%d tokens, want 1", n)
			}
		}},
		{"issue takes a token someone made after the intent, allowing for clock skew", func(t *testing.T, w World, s *seen) {
			intent := w.Now().Truncate(time.Second)
			made, secret := w.AddToken(shortURL, pubAPI, intent.Add(-skewMargin/2), twoYears)
			s.add(secret)
			got := must(w.Issue(ctx(t), flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, IntentAt: intent}))(t)
			if !got.Existing || got.Token.ID != made.ID || got.Secret.Fingerprint() != secret.Fingerprint() {
				t.Errorf("Issue = token %d existing %v, want the existing token %d", got.Token.ID, got.Existing, made.ID)
			}
			if len(w.Events()) != 0 {
				t.Errorf("events written for an existing token: %+v", w.Events())
			}
		}},
		{"issue makes a new token when the others are older than the intent or revoked", func(t *testing.T, w World, s *seen) {
			intent := w.Now().Truncate(time.Second)
			w.AddToken(shortURL, pubAPI, intent.Add(-2*skewMargin), twoYears)
			revoked, _ := w.AddToken(shortURL, pubAPI, intent.Add(time.Second), twoYears)
			w.AddToken(shortURL, store, intent.Add(time.Second), twoYears)
			w.AddToken(tagger, pubAPI, intent.Add(time.Second), twoYears)
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: revoked.ID}))(t)
			got := must(w.Issue(ctx(t), flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, IntentAt: intent}))(t)
			s.add(got.Secret)
			if got.Existing || w.TokenCount(shortURL, pubAPI) != 3 {
				t.Errorf("Issue existing=%v with %d tokens, want a third, new token", got.Existing, w.TokenCount(shortURL, pubAPI))
			}
		}},
		{"issue records the requester only if Signon would let them do it (a superadmin, not suspended or locked), else the service identity", func(t *testing.T, w World, s *seen) {
			w.AddSuperadmin("Suspended Admin", "gone@digital.cabinet-office.gov.uk")
			w.Suspend("gone@digital.cabinet-office.gov.uk")
			w.AddSuperadmin("Locked Admin", "locked@digital.cabinet-office.gov.uk")
			w.Lock("locked@digital.cabinet-office.gov.uk")
			var want []Event
			for i, requester := range []string{"", "stranger@example.com", "gone@digital.cabinet-office.gov.uk", "locked@digital.cabinet-office.gov.uk", tagger, person, strings.ToUpper(admin)} {
				intent := w.Now().Add(time.Duration(i) * time.Hour) // each asks for a new token
				got := must(w.Issue(ctx(t), flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, IntentAt: intent, Initiator: requester}))(t)
				s.add(got.Secret)
				wantInit := flows.Initiator{Email: SuiteServiceIdentity, Service: true}
				if requester == strings.ToUpper(admin) {
					wantInit = flows.Initiator{Email: admin}
				}
				if got.Initiator != wantInit {
					t.Errorf("requester %q: initiator %+v, want %+v", requester, got.Initiator, wantInit)
				}
				want = append(want, Event{Name: EventGenerated, User: shortURL, Initiator: wantInit.Email, Application: pubAPI})
			}
			wantEvents(t, w, want...)
		}},
		{"issue refuses bad input, unknown users and applications, and suspended users", func(t *testing.T, w World, s *seen) {
			now := w.Now()
			w.AddToken(tagger, pubAPI, now.Add(-day), twoYears)
			w.Suspend(tagger)
			for _, c := range []struct {
				req      flows.IssueRequest
				sentinel error
				kind     signon.Kind
			}{
				{flows.IssueRequest{RunID: newRun(), Email: "nope", Application: pubAPI, IntentAt: now}, flows.ErrBadInput, signon.KindBadInput},
				{flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: "", IntentAt: now}, flows.ErrBadInput, signon.KindBadInput},
				{flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI}, flows.ErrBadInput, signon.KindBadInput},
				{flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, IntentAt: now, Initiator: "not an email"}, flows.ErrBadInput, signon.KindBadInput},
				{flows.IssueRequest{RunID: newRun(), Email: "nobody@alphagov.co.uk", Application: pubAPI, IntentAt: now}, flows.ErrUnknownAPIUser, signon.KindUnknownAPIUser},
				{flows.IssueRequest{RunID: newRun(), Email: person, Application: pubAPI, IntentAt: now}, flows.ErrUnknownAPIUser, signon.KindUnknownAPIUser},
				{flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: "whitehall", IntentAt: now}, flows.ErrUnknownApplication, signon.KindUnknownApplication},
				{flows.IssueRequest{RunID: newRun(), Email: tagger, Application: pubAPI, IntentAt: now.Add(-time.Hour)}, flows.ErrSuspended, signon.KindSuspended},
			} {
				refused(t, w, s, c.sentinel, c.kind, func() error { _, err := w.Issue(ctx(t), c.req); return err })
			}
		}},
		{"issue refuses when the service identity is needed and not active", func(t *testing.T, w World, s *seen) {
			w.Suspend(SuiteServiceIdentity)
			refused(t, w, s, flows.ErrBadInput, signon.KindNoInitiator, func() error {
				_, err := w.Issue(ctx(t), flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, IntentAt: w.Now(), Initiator: "stranger@example.com"})
				return err
			})
			got := must(w.Issue(ctx(t), flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, IntentAt: w.Now(), Initiator: admin}))(t)
			s.add(got.Secret)
			if got.Initiator.Service {
				t.Errorf("a requester with an account was recorded as the service identity")
			}
		}},
		{"tokens name the sync job's choice: the latest expiry, not the newest, with a token that never expires last", func(t *testing.T, w World, s *seen) {
			now := w.Now().Truncate(time.Second)
			// Made before 10 January 2019: ten years.
			legacy, _ := w.AddToken(shortURL, pubAPI, now.AddDate(-8, 0, 10), 10*365*day)
			newer, _ := w.AddToken(shortURL, pubAPI, now.Add(-day), twoYears)
			forever, _ := w.AddToken(shortURL, pubAPI, now.Add(-time.Hour), 0)
			set := must(w.Tokens(ctx(t), shortURL, pubAPI))(t)
			if !set.Synced || set.SyncedTokenID != legacy.ID {
				t.Errorf("synced %v token %d, want token %d (expires last) over the newer %d", set.Synced, set.SyncedTokenID, legacy.ID, newer.ID)
			}
			if got := set.Tokens[0]; got.ID != forever.ID || got.Expires() {
				t.Errorf("the token without expires_in is listed as %+v, want it first and never expiring", got)
			}
			only := must(w.Tokens(ctx(t), shortURL, store))(t)
			if !only.Synced || only.SyncedTokenID != 0 {
				t.Errorf("a pair without tokens: synced %v token %d", only.Synced, only.SyncedTokenID)
			}
			w.AddToken(tagger, store, now.Add(-time.Hour), 0)
			if set := must(w.Tokens(ctx(t), tagger, store))(t); set.SyncedTokenID != set.Tokens[0].ID {
				t.Errorf("with only a never-expiring token, the sync writes it: got %d", set.SyncedTokenID)
			}
		}},
		{"issue refuses when an unrevoked token outlives a new one, and changes nothing", func(t *testing.T, w World, s *seen) {
			now := w.Now().Truncate(time.Second)
			legacy, secret := w.AddToken(shortURL, pubAPI, now.AddDate(-8, 0, 10), 10*365*day)
			s.add(secret)
			err := refused(t, w, s, flows.ErrOutlived, signon.KindOutlived, func() error {
				_, err := w.Issue(ctx(t), flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, IntentAt: w.Now()})
				return err
			})
			if !strings.Contains(err.Error(), fmt.Sprintf("token %d", legacy.ID)) || !strings.Contains(err.Error(), string(legacy.Fingerprint)) {
				t.Errorf("error %q does not name token %d and its fingerprint", err, legacy.ID)
			}
		}},
		{"a retired application's pair is listed but not synced, and hidden from changes", func(t *testing.T, w World, s *seen) {
			tok, _ := w.AddToken(shortURL, search, w.Now().Add(-day), twoYears)
			w.RetireApplication(search)
			set := must(w.Tokens(ctx(t), shortURL, search))(t)
			if set.Synced || set.SyncedTokenID != 0 || !set.Application.Retired || len(set.Tokens) != 1 {
				t.Errorf("Tokens = synced %v token %d retired %v, %d tokens; want a listed, unsynced pair", set.Synced, set.SyncedTokenID, set.Application.Retired, len(set.Tokens))
			}
			refused(t, w, s, flows.ErrUnknownApplication, signon.KindUnknownApplication, func() error {
				_, err := w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: search, TokenID: tok.ID})
				return err
			})
		}},
		{"a repeated issue of one run finds its token by the run id, long after the intent", func(t *testing.T, w World, s *seen) {
			run := newRun()
			first := must(w.Issue(ctx(t), flows.IssueRequest{RunID: run, Email: shortURL, Application: pubAPI, IntentAt: w.Now().Add(-2 * time.Hour)}))(t)
			s.add(first.Secret)
			// A later intent than any clock skew allows: only the run id
			// ties the token to the run.
			again := must(w.Issue(ctx(t), flows.IssueRequest{RunID: run, Email: shortURL, Application: pubAPI, IntentAt: w.Now().Add(time.Hour)}))(t)
			if !again.Existing || again.Token.ID != first.Token.ID {
				t.Errorf("re-issue = token %d existing %v, want token %d", again.Token.ID, again.Existing, first.Token.ID)
			}
			other := must(w.Issue(ctx(t), flows.IssueRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, IntentAt: w.Now().Add(time.Hour)}))(t)
			s.add(other.Secret)
			if other.Existing {
				t.Errorf("another run's issue found token %d", other.Token.ID)
			}
		}},
		{"the Sunday clean-up deletes expired tokens, revoked or not, and a revoke then finds none", func(t *testing.T, w World, s *seen) {
			now := w.Now().Truncate(time.Second)
			expired, _ := w.AddToken(shortURL, pubAPI, now.Add(-3*day-twoYears), twoYears)
			revoked, _ := w.AddToken(shortURL, store, now.Add(-3*day-twoYears), twoYears)
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: store, TokenID: revoked.ID}))(t)
			live, _ := w.AddToken(shortURL, pubAPI, now.Add(-day), twoYears)
			forever, _ := w.AddToken(tagger, pubAPI, now.AddDate(-12, 0, 0), 0)
			w.DeleteExpired()
			if n := w.TokenCount(shortURL, pubAPI); n != 1 {
				t.Errorf("%d tokens left, want only %d", n, live.ID)
			}
			if n := w.TokenCount(shortURL, store) + w.TokenCount(tagger, pubAPI); n != 1 {
				t.Errorf("the revoked expired token is kept, or the never-expiring %d went", forever.ID)
			}
			refused(t, w, s, flows.ErrUnknownToken, signon.KindUnknownToken, func() error {
				_, err := w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: expired.ID})
				return err
			})
			got := w.Events()
			if last := got[len(got)-1]; last.Name != EventTokensDeleted || last.User != shortURL || last.TrailingMessage != "for Publishing API and Content Store" {
				t.Errorf("last event %+v, want one ACCESS_TOKENS_DELETED for both applications", last)
			}
		}},
		{"the 01:00 auto-renew makes a two-year token for internal users' expiring tokens, with no initiator", func(t *testing.T, w World, s *seen) {
			now := w.Now().Truncate(time.Second)
			w.AddAPIUser("Partner", "feed@partner.example.com")
			w.AddToken(shortURL, pubAPI, now.Add(20*day-twoYears), twoYears) // renewed
			w.AddToken(shortURL, store, now.Add(20*day-twoYears), twoYears)  // a newer, revoked token stops it
			stop, _ := w.AddToken(shortURL, store, now.Add(-day), twoYears)
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: store, TokenID: stop.ID}))(t)
			w.AddToken(tagger, pubAPI, now.Add(40*day-twoYears), twoYears)                    // not within a month
			w.AddToken("feed@partner.example.com", pubAPI, now.Add(5*day-twoYears), twoYears) // not internal
			before := len(w.Events())
			w.AutoRenew()
			set := must(w.Tokens(ctx(t), shortURL, pubAPI))(t)
			if len(set.Tokens) != 2 || set.SyncedTokenID != set.Tokens[0].ID || set.Tokens[0].ExpiresAt.Sub(set.Tokens[0].CreatedAt) != twoYears {
				t.Errorf("Tokens after auto-renew = %+v, want a new two-year token that the sync writes", set.Tokens)
			}
			for email, app := range map[string]string{tagger: pubAPI, "feed@partner.example.com": pubAPI} {
				if n := w.TokenCount(email, app); n != 1 {
					t.Errorf("%s has %d tokens for %s, want 1", email, n, app)
				}
			}
			if n := w.TokenCount(shortURL, store); n != 2 {
				t.Errorf("a newer revoked token did not stop the renewal: %d tokens", n)
			}
			if !w.HasSignin(shortURL, pubAPI) {
				t.Errorf("the renewed user was not granted signin")
			}
			got := w.Events()[before:]
			if len(got) != 1 || got[0] != (Event{Name: EventAutoGenerated, User: shortURL, Application: pubAPI}) {
				t.Errorf("events %+v, want one ACCESS_TOKEN_AUTO_GENERATED without initiator", got)
			}
		}},
		{"times are UTC whatever the server's time zone, in British Summer Time too", func(t *testing.T, w World, s *seen) {
			summer := time.Date(2026, time.July, 1, 12, 30, 0, 0, time.UTC)
			tok, _ := w.AddToken(shortURL, pubAPI, summer, twoYears)
			got := must(w.Tokens(ctx(t), shortURL, pubAPI))(t).Tokens[0]
			if !got.CreatedAt.Equal(summer) || !got.ExpiresAt.Equal(tok.ExpiresAt) || got.CreatedAt.Location() != time.UTC {
				t.Errorf("token made %v expiring %v reads back as %v expiring %v", summer, tok.ExpiresAt, got.CreatedAt, got.ExpiresAt)
			}
		}},
		{"suspending a user revokes all of its tokens", func(t *testing.T, w World, s *seen) {
			now := w.Now()
			w.AddToken(tagger, pubAPI, now.Add(-day), twoYears)
			w.AddToken(tagger, store, now.Add(-day), 0)
			w.Suspend(tagger)
			for _, app := range []string{pubAPI, store} {
				set := must(w.Tokens(ctx(t), tagger, app))(t)
				if set.Synced || set.SyncedTokenID != 0 || len(set.Tokens) != 1 || !set.Tokens[0].Revoked() {
					t.Errorf("%s after suspension: %+v", app, set)
				}
			}
		}},
		{"revoke revokes the token and records it", func(t *testing.T, w World, s *seen) {
			tok, secret := w.AddToken(shortURL, pubAPI, w.Now().Add(-day), twoYears)
			s.add(secret)
			before := w.Now()
			run := newRun()
			got := must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: run, Requester: "U0BOB", Email: shortURL, Application: "publishing-api", TokenID: tok.ID, Initiator: admin}))(t)
			if got.Token.ID != tok.ID || !got.Token.Revoked() || got.Token.RevokedAt.Before(before.Add(-time.Second)) || got.Token.Fingerprint != tok.Fingerprint {
				t.Errorf("Revoke = %+v", got.Token)
			}
			if got.Initiator != (flows.Initiator{Email: admin}) {
				t.Errorf("initiator %+v", got.Initiator)
			}
			wantEvents(t, w, Event{Name: EventRevoked, User: shortURL, Initiator: admin, Application: pubAPI, UserAgent: UserAgent,
				TrailingMessage: fmt.Sprintf("run %s for Slack user U0BOB: token %d", run, tok.ID)})
			set := must(w.Tokens(ctx(t), shortURL, pubAPI))(t)
			if len(set.Tokens) != 1 || !set.Tokens[0].Revoked() {
				t.Errorf("Tokens after revoke = %+v", set.Tokens)
			}
		}},
		{"revoke refuses a revoked token, another user's or application's, an unknown one and bad input", func(t *testing.T, w World, s *seen) {
			now := w.Now()
			mine, _ := w.AddToken(shortURL, pubAPI, now.Add(-day), twoYears)
			other, _ := w.AddToken(shortURL, store, now.Add(-day), twoYears)
			theirs, _ := w.AddToken(tagger, pubAPI, now.Add(-day), twoYears)
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: mine.ID}))(t)
			for _, c := range []struct {
				req      flows.RevokeRequest
				sentinel error
				kind     signon.Kind
			}{
				{flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: mine.ID}, flows.ErrAlreadyRevoked, signon.KindAlreadyRevoked},
				{flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: other.ID}, flows.ErrWrongOwner, signon.KindWrongOwner},
				{flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: theirs.ID}, flows.ErrWrongOwner, signon.KindWrongOwner},
				{flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: theirs.ID + 1000}, flows.ErrUnknownToken, signon.KindUnknownToken},
				{flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: 0}, flows.ErrBadInput, signon.KindBadInput},
				{flows.RevokeRequest{RunID: newRun(), Email: "x", Application: pubAPI, TokenID: mine.ID}, flows.ErrBadInput, signon.KindBadInput},
				{flows.RevokeRequest{RunID: newRun(), Email: person, Application: pubAPI, TokenID: mine.ID}, flows.ErrUnknownAPIUser, signon.KindUnknownAPIUser},
				{flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: "whitehall", TokenID: mine.ID}, flows.ErrUnknownApplication, signon.KindUnknownApplication},
			} {
				refused(t, w, s, c.sentinel, c.kind, func() error { _, err := w.Revoke(ctx(t), c.req); return err })
			}
			w.Suspend(tagger)
			refused(t, w, s, flows.ErrSuspended, signon.KindSuspended, func() error {
				_, err := w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: tagger, Application: pubAPI, TokenID: theirs.ID})
				return err
			})
		}},
		{"reveal reads one live token by id, writes nothing, and refuses any other", func(t *testing.T, w World, s *seen) {
			now := w.Now().Truncate(time.Second)
			live, liveSecret := w.AddToken(shortURL, pubAPI, now.Add(-time.Hour), twoYears)
			gone, goneSecret := w.AddToken(shortURL, pubAPI, now.Add(-2*time.Hour), twoYears)
			expired, expiredSecret := w.AddToken(shortURL, pubAPI, now.Add(-3*day), day)
			theirs, theirsSecret := w.AddToken(tagger, pubAPI, now.Add(-time.Hour), twoYears)
			for _, x := range []token.Secret{liveSecret, goneSecret, expiredSecret, theirsSecret} {
				s.add(x)
			}
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: pubAPI, TokenID: gone.ID, Initiator: person}))(t)
			events, count, before := len(w.Events()), w.TokenCount(shortURL, pubAPI), w.Snapshot()

			got := must(w.Reveal(ctx(t), flows.RevealRequest{Email: shortURL, Application: "publishing-api", TokenID: live.ID}))(t)
			if got.Token.ID != live.ID || got.Token.Fingerprint != live.Fingerprint || got.Secret.Reveal() != liveSecret.Reveal() {
				t.Fatalf("Reveal = token %d %s, want token %d %s", got.Token.ID, got.Token.Fingerprint, live.ID, live.Fingerprint)
			}
			if len(w.Events()) != events || w.TokenCount(shortURL, pubAPI) != count || w.Snapshot() != before {
				t.Fatal("a reveal changed Signon")
			}
			for _, c := range []struct {
				req      flows.RevealRequest
				sentinel error
				kind     signon.Kind
			}{
				{flows.RevealRequest{Email: shortURL, Application: pubAPI, TokenID: gone.ID}, flows.ErrAlreadyRevoked, signon.KindAlreadyRevoked},
				{flows.RevealRequest{Email: shortURL, Application: pubAPI, TokenID: expired.ID}, flows.ErrAlreadyRevoked, signon.KindAlreadyRevoked},
				{flows.RevealRequest{Email: shortURL, Application: pubAPI, TokenID: theirs.ID}, flows.ErrWrongOwner, signon.KindWrongOwner},
				{flows.RevealRequest{Email: shortURL, Application: store, TokenID: live.ID}, flows.ErrWrongOwner, signon.KindWrongOwner},
				{flows.RevealRequest{Email: shortURL, Application: pubAPI, TokenID: theirs.ID + 1000}, flows.ErrUnknownToken, signon.KindUnknownToken},
				{flows.RevealRequest{Email: shortURL, Application: pubAPI, TokenID: 0}, flows.ErrBadInput, signon.KindBadInput},
				{flows.RevealRequest{Email: person, Application: pubAPI, TokenID: live.ID}, flows.ErrUnknownAPIUser, signon.KindUnknownAPIUser},
			} {
				refused(t, w, s, c.sentinel, c.kind, func() error { _, err := w.Reveal(ctx(t), c.req); return err })
			}
		}},
	}
}

// refused checks that call fails with the sentinel and kind, changes
// nothing, and quotes no token. It returns the error.
func refused(t *testing.T, w World, s *seen, sentinel error, kind signon.Kind, call func() error) error {
	t.Helper()
	before := w.Snapshot()
	err := call()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want %v", err, sentinel)
	}
	var e *signon.Error
	if !errors.As(err, &e) || e.Kind != kind {
		t.Errorf("error %v is not a *signon.Error of kind %s", err, kind)
	}
	if w.Snapshot() != before {
		t.Errorf("a refused call (%v) changed Signon", err)
	}
	NoSecretIn(t, err.Error(), s.all...)
	return err
}

// NoSecretIn fails the test if text holds one of the secrets, or anything
// shaped like a Signon token.
func NoSecretIn(t testing.TB, text string, secrets ...token.Secret) {
	t.Helper()
	for _, s := range secrets {
		if !s.Empty() && strings.Contains(text, s.Reveal()) {
			t.Errorf("text quotes token %s", s.Fingerprint())
		}
	}
	if token.Pattern.MatchString(text) {
		t.Errorf("text holds something shaped like a token")
	}
}

// wantEvents compares the event log with want. Every entry the bot wrote
// must name it and its run; a want without a trailing message takes any
// such message.
func wantEvents(t *testing.T, w World, want ...Event) {
	t.Helper()
	got := w.Events()
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		bot := want[i].Name == EventGenerated || want[i].Name == EventRevoked
		if bot && want[i].TrailingMessage == "" && botTrailer.MatchString(got[i].TrailingMessage) {
			want[i].UserAgent, want[i].TrailingMessage = UserAgent, got[i].TrailingMessage
		}
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

var botTrailer = regexp.MustCompile(`^run r-[a-z2-7]+ for Slack user (unknown|U[A-Z0-9]+): token [0-9]+$`)

func ctx(t *testing.T) context.Context { return t.Context() }

// newRun is a fresh run id: each call stands for another run.
func newRun() string { return flows.NewID("r") }

// must(call())(t) fails the test if the call failed and returns its value.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
