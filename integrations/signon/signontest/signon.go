// Package signontest has an in-memory Signon that behaves as the bot's
// script does on a real Signon, and the conformance suite (Run) that holds
// the double and the script to the same behaviour.
package signontest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// DefaultServiceIdentity is the service identity of a Signon whose
// ServiceIdentity is empty; such a double has that account from the start.
const DefaultServiceIdentity = "signon-token-bot@digital.cabinet-office.gov.uk"

// Signon is an in-memory Signon for one environment. Its zero value is ready
// to use and empty but for the default service identity. It is strict as the
// script is: unknown users and applications, a person's email, revoking
// twice or revoking another user's token fail with the same *signon.Error
// kinds, and a failed call changes nothing.
//
// World-building methods (AddAPIUser, ...) panic on a mistake in the test
// (a duplicate email, an unknown name).
type Signon struct {
	// Clock stamps tokens, revocations and events. Nil: the system clock.
	Clock flows.Clock
	// ServiceIdentity is the account recorded when a requester has no
	// Signon account. Set it before first use; the test then adds that
	// account with AddHumanUser (or leaves it out to see Issue refuse).
	ServiceIdentity string
	// ClockSkew widens the intent window as the client's does. Zero:
	// signon.DefaultClockSkew.
	ClockSkew time.Duration

	// Fault hooks. The next call of an op takes and clears its entry. Set
	// them before the calls they target, or inside Locked when calls may
	// be running.
	//
	// FailNext fails the call, changing nothing.
	FailNext map[signon.Op]error
	// DelayNext makes the call wait (in real time, or until its context
	// ends: then it fails as a timed-out exec does, changing nothing).
	DelayNext map[signon.Op]time.Duration
	// HoldNext stops the call until the Hold is released (or its context
	// ends, as for DelayNext).
	HoldNext map[signon.Op]*Hold
	// TimeoutNextIssue makes the next Issue do its work (create the token
	// or find the existing one) and then fail as the client does when the
	// exec timed out after the script committed.
	TimeoutNextIssue bool

	mu     sync.Mutex
	ready  bool
	nextID int64
	users  []*user
	apps   []*app
	tokens []*tok
	signin map[pair]bool
	synced map[pair]time.Time
	events []Event
	calls  map[signon.Op]int
}

type user struct {
	id          int64
	name, email string
	api         bool
	suspendedAt time.Time
}

type app struct {
	id   int64
	name string
}

type tok struct {
	id        int64
	user, app int64
	secret    token.Secret
	created   time.Time
	life      time.Duration
	revoked   time.Time
}

type pair struct{ user, app int64 }

// Event is one entry of Signon's event log that the bot writes.
type Event struct {
	// Name is Signon's constant: ACCESS_TOKEN_GENERATED or
	// ACCESS_TOKEN_REVOKED.
	Name string
	// User and Initiator are emails; Application is the Signon name.
	User, Initiator, Application string
}

// Signon's event names.
const (
	EventGenerated = "ACCESS_TOKEN_GENERATED"
	EventRevoked   = "ACCESS_TOKEN_REVOKED"
)

// New returns an empty Signon whose clock is c (nil: the system clock).
func New(c flows.Clock) *Signon { return &Signon{Clock: c} }

// Locked runs f with the double locked, for setting fault hooks while calls
// may be running. f must not call the double.
func (s *Signon) Locked(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// init makes the zero value usable. Callers hold mu.
func (s *Signon) init() {
	if s.ready {
		return
	}
	s.ready = true
	s.signin = map[pair]bool{}
	s.synced = map[pair]time.Time{}
	s.calls = map[signon.Op]int{}
	if s.ServiceIdentity == "" {
		s.ServiceIdentity = DefaultServiceIdentity
		s.addUser("Signon token bot", DefaultServiceIdentity, false)
	}
}

// Now is the double's time, truncated to the microsecond as a database
// stores it.
func (s *Signon) Now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Clock.Now().UTC().Truncate(time.Microsecond)
}

func (s *Signon) skew() time.Duration {
	if s.ClockSkew > 0 {
		return s.ClockSkew
	}
	return signon.DefaultClockSkew
}

// AddAPIUser adds an API user.
func (s *Signon) AddAPIUser(name, email string) flows.APIUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	return apiUser(s.addUser(name, email, true))
}

// AddHumanUser adds a person's account: a requester or a service identity.
func (s *Signon) AddHumanUser(name, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.addUser(name, email, false)
}

func (s *Signon) addUser(name, email string, api bool) *user {
	email = strings.ToLower(email)
	if s.userByEmail(email) != nil {
		panic(fmt.Sprintf("signontest: user %s exists already", email))
	}
	s.nextID++
	u := &user{id: s.nextID, name: name, email: email, api: api}
	s.users = append(s.users, u)
	return u
}

// AddApplication adds an application.
func (s *Signon) AddApplication(name string) flows.Application {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if slices.ContainsFunc(s.apps, func(a *app) bool { return a.name == name }) {
		panic(fmt.Sprintf("signontest: application %s exists already", name))
	}
	s.nextID++
	a := &app{id: s.nextID, name: name}
	s.apps = append(s.apps, a)
	return application(a)
}

// AddToken adds a token of any user (a person's too) for an application,
// made at created and living for life, and returns it with its plaintext.
func (s *Signon) AddToken(email, applicationName string, created time.Time, life time.Duration) (flows.Token, token.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	u, a := s.mustUser(email), s.mustApp(applicationName)
	t := s.addToken(u, a, created.UTC().Truncate(time.Microsecond), life)
	return t.public(), t.secret
}

func (s *Signon) addToken(u *user, a *app, created time.Time, life time.Duration) *tok {
	s.nextID++
	t := &tok{id: s.nextID, user: u.id, app: a.id, secret: token.Generate(), created: created, life: life}
	recordToken(t.secret)
	s.tokens = append(s.tokens, t)
	return t
}

// SetLastSynced records when the application last saw the user's token.
func (s *Signon) SetLastSynced(email, applicationName string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.synced[pair{s.mustUser(email).id, s.mustApp(applicationName).id}] = at.UTC().Truncate(time.Microsecond)
}

// Suspend suspends a user and, as Signon does, revokes all their tokens.
func (s *Signon) Suspend(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	u := s.mustUser(email)
	now := s.Now()
	u.suspendedAt = now
	for _, t := range s.tokens {
		if t.user == u.id && t.revoked.IsZero() {
			t.revoked = now
		}
	}
}

// NewestUnrevoked is the token the sync job would write for an API user
// (by name) and application (by Signon name): of the unsuspended user's
// unrevoked tokens, the one that expires last.
func (s *Signon) NewestUnrevoked(apiUserName, applicationName string) (token.Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	for _, u := range s.users {
		if !u.api || u.name != apiUserName || !u.suspendedAt.IsZero() {
			continue
		}
		for _, a := range s.apps {
			if a.name == applicationName {
				if t := s.newest(u, a); t != nil {
					return t.secret, true
				}
			}
		}
	}
	return token.Secret{}, false
}

// IssuedSecrets returns every token the double made (issued or added), for
// leak scans.
func (s *Signon) IssuedSecrets() []token.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []token.Secret
	for _, t := range s.tokens {
		out = append(out, t.secret)
	}
	return out
}

// TokenCount counts the user's tokens for the application, revoked ones
// included: "exactly one new token" is a difference of two counts.
func (s *Signon) TokenCount(email, applicationName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	u, a := s.mustUser(email), s.mustApp(applicationName)
	n := 0
	for _, t := range s.tokens {
		if t.user == u.id && t.app == a.id {
			n++
		}
	}
	return n
}

// HasSignin reports whether the user holds the application's signin
// permission.
func (s *Signon) HasSignin(email, applicationName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	return s.signin[pair{s.mustUser(email).id, s.mustApp(applicationName).id}]
}

// Events returns the event log, oldest first.
func (s *Signon) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Calls counts the calls of an op, failed ones included.
func (s *Signon) Calls(op signon.Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Snapshot describes everything the double holds, so that a test can check
// that a refused call changed nothing.
func (s *Signon) Snapshot() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	var b strings.Builder
	for _, u := range s.users {
		fmt.Fprintf(&b, "user %d %q %s api=%t suspended=%s\n", u.id, u.name, u.email, u.api, stamp(u.suspendedAt))
	}
	for _, a := range s.apps {
		fmt.Fprintf(&b, "app %d %q\n", a.id, a.name)
	}
	for _, t := range s.tokens {
		fmt.Fprintf(&b, "token %d user=%d app=%d %s created=%s life=%v revoked=%s\n", t.id, t.user, t.app, t.secret.Fingerprint(), stamp(t.created), t.life, stamp(t.revoked))
	}
	for _, p := range sortedPairs(s.signin) {
		fmt.Fprintf(&b, "signin user=%d app=%d\n", p.user, p.app)
	}
	for _, p := range sortedPairs(s.synced) {
		fmt.Fprintf(&b, "synced user=%d app=%d at=%s\n", p.user, p.app, stamp(s.synced[p]))
	}
	for _, e := range s.events {
		fmt.Fprintf(&b, "event %+v\n", e)
	}
	return b.String()
}

func sortedPairs[V any](m map[pair]V) []pair {
	ps := make([]pair, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b pair) int { return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.app, b.app)) })
	return ps
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339Nano)
}

func (s *Signon) mustUser(email string) *user {
	u := s.userByEmail(strings.ToLower(email))
	if u == nil {
		panic(fmt.Sprintf("signontest: no user %s", email))
	}
	return u
}

func (s *Signon) mustApp(name string) *app {
	for _, a := range s.apps {
		if a.name == name {
			return a
		}
	}
	panic(fmt.Sprintf("signontest: no application %s", name))
}

func (s *Signon) userByEmail(email string) *user {
	for _, u := range s.users {
		if u.email == email {
			return u
		}
	}
	return nil
}

// newest is the sync job's choice: the unrevoked token that expires last,
// the later-made one on a tie.
func (s *Signon) newest(u *user, a *app) *tok {
	var best *tok
	for _, t := range s.tokens {
		if t.user != u.id || t.app != a.id || !t.revoked.IsZero() {
			continue
		}
		if best == nil || !t.expires().Before(best.expires()) {
			best = t
		}
	}
	return best
}

func (t *tok) expires() time.Time { return t.created.Add(t.life) }

func (t *tok) public() flows.Token {
	return flows.Token{ID: t.id, CreatedAt: t.created, ExpiresAt: t.expires(), RevokedAt: t.revoked, Fingerprint: t.secret.Fingerprint()}
}

func apiUser(u *user) flows.APIUser {
	return flows.APIUser{ID: u.id, Name: u.name, Email: u.email, Suspended: !u.suspendedAt.IsZero()}
}

func application(a *app) flows.Application {
	return flows.Application{ID: a.id, Name: a.name, Slug: flows.Parameterize(a.name)}
}
