package flows

import (
	"context"
	"time"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// Signon is what the flows need from Signon in one environment. Signon has no
// token API: the real implementation runs Ruby in the signon pod.
//
// Applications may be named by their Signon name ("Publishing API") or their
// parameterised form ("publishing-api"). Errors wrap the sentinel errors of
// this package (ErrUnknownAPIUser, ErrUnknownApplication, ErrSuspended,
// ErrWrongOwner, ErrAlreadyRevoked, ErrUnknownToken, ErrBadInput,
// ErrUnavailable).
type Signon interface {
	// FindAPIUser finds an API user by email. A human (non-API) user is
	// ErrUnknownAPIUser wrapped with a message that says so.
	FindAPIUser(ctx context.Context, email string) (APIUser, error)
	// Tokens lists every token (revoked ones too) of the API user for the
	// application, newest first, with when the application last saw the
	// user's token.
	Tokens(ctx context.Context, email, application string) (TokenSet, error)
	// Expiring lists, for every (API user, application), the newest
	// unrevoked token if it expires before now+within: the alert's own rule.
	Expiring(ctx context.Context, within time.Duration) ([]ExpiringToken, error)
	// Issue makes a token with Signon's defaults, idempotently: if an
	// unrevoked token of that user and application was created at or after
	// req.IntentAt, it is returned (Existing true) instead of making another.
	// "At or after" allows for clock skew between the bot and Signon (a
	// minute by default), so a token made just before the intent by someone
	// else can be returned too: the caller must not count it among the old
	// tokens it will revoke.
	Issue(ctx context.Context, req IssueRequest) (Issued, error)
	// Revoke revokes one token of the user and application.
	Revoke(ctx context.Context, req RevokeRequest) (Revoked, error)
	// Reveal reads the plaintext of one token of the user and application,
	// by id, and writes nothing: a revoked or expired token is
	// ErrAlreadyRevoked, a missing one ErrUnknownToken, another's
	// ErrWrongOwner. It never makes a token.
	Reveal(ctx context.Context, req RevealRequest) (Revealed, error)
}

// TokenLife is ApiUser::DEFAULT_TOKEN_LIFE, Rails' 2.years in seconds (two
// years of 365.2425 days): the life of every token the bot issues.
const TokenLife = 63113904 * time.Second

// APIUser is a Signon API user.
type APIUser struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Suspended bool   `json:"suspended"`
}

// Application is a Signon application (an OAuth application).
type Application struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Slug is the parameterised name the alert uses.
	Slug string `json:"slug"`
	// Retired applications are hidden in Signon and skipped by the sync.
	Retired bool `json:"retired,omitempty"`
}

// Token is one access token, as far as it is safe to know it.
type Token struct {
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that never expires (no expires_in).
	ExpiresAt   time.Time         `json:"expires_at,omitzero"`
	RevokedAt   time.Time         `json:"revoked_at,omitzero"`
	Fingerprint token.Fingerprint `json:"fingerprint"`
}

// Revoked reports whether the token has been revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Expires reports whether the token has an expiry at all.
func (t Token) Expires() bool { return !t.ExpiresAt.IsZero() }

// ExpiresBefore reports whether the token expires before at; a token that
// never expires does not.
func (t Token) ExpiresBefore(at time.Time) bool { return t.Expires() && t.ExpiresAt.Before(at) }

// TokenSet is an API user's tokens for one application.
type TokenSet struct {
	User        APIUser     `json:"user"`
	Application Application `json:"application"`
	// Tokens, newest first, revoked ones included.
	Tokens []Token `json:"tokens"`
	// LastSyncedAt is user_application_permissions.last_synced_at: when
	// the application last checked one of this user's tokens with Signon
	// (/user.json, cached 5 minutes by the client) or had permissions
	// pushed to it. It is per pair, not per token; zero if never.
	LastSyncedAt time.Time `json:"last_synced_at,omitzero"`
	// Synced is false when kubernetes:sync_token_secrets skips the pair
	// (a suspended user, a retired application): nothing in the cluster
	// can hold its token.
	Synced bool `json:"synced"`
	// SyncedTokenID is the token the sync writes: the unrevoked one that
	// expires last. Zero when there is none or Synced is false.
	SyncedTokenID int64 `json:"synced_token_id,omitempty"`
}

// SyncChoice is the token the sync job writes for the pair, if any.
func (s TokenSet) SyncChoice() (Token, bool) {
	for _, t := range s.Tokens {
		if s.SyncedTokenID != 0 && t.ID == s.SyncedTokenID {
			return t, true
		}
	}
	return Token{}, false
}

// ExpiringToken is one row of Signon's expiry report.
type ExpiringToken struct {
	User        APIUser     `json:"user"`
	Application Application `json:"application"`
	// Token is the one the sync job writes (the alert's max expiry).
	Token        Token     `json:"token"`
	LastSyncedAt time.Time `json:"last_synced_at,omitzero"`
}

// IssueRequest asks for a new token.
type IssueRequest struct {
	Email       string
	Application string
	// IntentAt is when the run recorded its intent to issue. A token made at
	// or after it is the run's token.
	IntentAt time.Time
	// Initiator is the email of the person who asked (their Slack email);
	// Signon records the matching Signon user if Signon would let them make
	// the change (a superadmin), else the service identity.
	Initiator string
	// RunID is the run that asks. It goes into the EventLog entry, and a
	// repeated Issue of the same run finds its token by it first.
	RunID string
	// Requester is the Slack user id the EventLog entry names.
	Requester string
}

// Issued is the result of Issue. Secret is the only plaintext the bot ever
// holds: hand it on once and drop it.
type Issued struct {
	Token     Token        `json:"token"`
	Secret    token.Secret `json:"-"`
	Existing  bool         `json:"existing"`
	Initiator Initiator    `json:"initiator"`
}

// RevokeRequest asks to revoke one token of a user and application.
type RevokeRequest struct {
	Email       string
	Application string
	TokenID     int64
	Initiator   string
	RunID       string
	Requester   string
}

// Revoked is the result of Revoke.
type Revoked struct {
	Token     Token     `json:"token"`
	Initiator Initiator `json:"initiator"`
}

// RevealRequest asks for the plaintext of one token.
type RevealRequest struct {
	Email       string
	Application string
	TokenID     int64
}

// Revealed is the result of Reveal. Like Issued's, its Secret is handed on
// once and dropped.
type Revealed struct {
	Token  Token        `json:"token"`
	Secret token.Secret `json:"-"`
}

// Initiator is who Signon's event log names for a change.
type Initiator struct {
	Email string `json:"email"`
	// Service is true when the requester has no Signon account and the
	// configured service identity was used instead.
	Service bool `json:"service"`
}
