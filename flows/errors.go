package flows

import "errors"

// Errors a port may wrap, so that the Slack layer can tell the user what
// went wrong without parsing messages. Wrap them with fmt.Errorf("...: %w").
var (
	// ErrBadInput: the request is malformed (not an email, not an
	// application name, an unknown environment).
	ErrBadInput = errors.New("bad input")
	// ErrUnknownAPIUser: Signon has no API user with that email.
	ErrUnknownAPIUser = errors.New("unknown API user")
	// ErrUnknownApplication: Signon has no application of that name.
	ErrUnknownApplication = errors.New("unknown application")
	// ErrSuspended: the API user is suspended.
	ErrSuspended = errors.New("API user is suspended")
	// ErrWrongOwner: a token belongs to another user or application.
	ErrWrongOwner = errors.New("token belongs to another API user or application")
	// ErrAlreadyRevoked: the token was revoked already.
	ErrAlreadyRevoked = errors.New("token already revoked")
	// ErrUnknownToken: no token with that id.
	ErrUnknownToken = errors.New("unknown token")
	// ErrOutlived: an unrevoked token expires after a new two-year token
	// would, so the sync job would never write the new one.
	ErrOutlived = errors.New("a longer-lived token would stay the synced one")
	// ErrUnavailable: a backend (Signon, the cluster, the state store) did
	// not answer in time or at all. Safe to retry.
	ErrUnavailable = errors.New("unavailable")
	// ErrNotFound: a cluster object (CronJob, Secret, Deployment) is missing.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the bot's own credentials do not allow the call.
	ErrForbidden = errors.New("forbidden")
	// ErrTimeout: a wait ran past its deadline.
	ErrTimeout = errors.New("timed out")
)

// ErrRolloutNotStarted: a Deployment did not begin rolling out after its
// Secret changed (Reloader missing or slow).
var ErrRolloutNotStarted = errors.New("rollout did not start")
