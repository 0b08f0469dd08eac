package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
)

// Options tune a Store. Zero fields take the defaults.
type Options struct {
	// Prefix begins every key; "stb" by default. Letters, digits and
	// . _ : - only, so that it cannot break the hash tag.
	Prefix string
	// Retention is how long a finished run, its audit trail, an offer and
	// a thread index outlive their last write: 30 days by default.
	Retention time.Duration
	// OpTimeout bounds each call, the client's retries included: 2s by
	// default. Give the client ContextTimeoutEnabled so that it also bounds
	// reads from a server that accepted the connection and went quiet.
	OpTimeout time.Duration
	// AuditMaxLen caps the global audit stream (approximately, as XADD
	// MAXLEN ~ does): 100,000 entries by default.
	AuditMaxLen int64
}

// Defaults.
const (
	DefaultPrefix      = "stb"
	DefaultRetention   = 30 * 24 * time.Hour
	DefaultOpTimeout   = 2 * time.Second
	DefaultAuditMaxLen = 100_000
)

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Store keeps the bot's state in Redis. It is safe for concurrent use by
// any number of goroutines and replicas.
type Store struct {
	rdb redis.UniversalClient
	opt Options
	k   keys
}

// New returns a Store on rdb. It does not talk to Redis: a Store made
// while Redis is down works once Redis is back.
func New(rdb redis.UniversalClient, opt Options) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("state: %w: no Redis client", flows.ErrBadInput)
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if !prefixPattern.MatchString(opt.Prefix) {
		return nil, fmt.Errorf("state: %w: prefix %q: want 1 to 64 of A-Z a-z 0-9 . _ : -", flows.ErrBadInput, opt.Prefix)
	}
	if opt.Retention == 0 {
		opt.Retention = DefaultRetention
	}
	if opt.OpTimeout == 0 {
		opt.OpTimeout = DefaultOpTimeout
	}
	if opt.AuditMaxLen == 0 {
		opt.AuditMaxLen = DefaultAuditMaxLen
	}
	if opt.Retention < time.Minute || opt.OpTimeout < time.Millisecond || opt.AuditMaxLen < 1 {
		return nil, fmt.Errorf("state: %w: retention %v (min 1m), op timeout %v (min 1ms), audit cap %d (min 1)",
			flows.ErrBadInput, opt.Retention, opt.OpTimeout, opt.AuditMaxLen)
	}
	return &Store{rdb: rdb, opt: opt, k: newKeys(opt.Prefix)}, nil
}

// op bounds one call.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opt.OpTimeout)
}

// fail wraps an error from Redis with what was being done: a record of
// the wrong type is a *flows.CorruptError of key, no answer in time or a
// server that cannot serve is flows.ErrUnavailable.
func fail(what, key string, err error) error {
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		return fmt.Errorf("%s: %w", what, &flows.CorruptError{Key: key, Err: err})
	}
	if unavailable(err) {
		return fmt.Errorf("%s: state store %w: %w", what, flows.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailable: everything but a reply from a working server, the caller's
// own cancellation and a closed client means "try again later".
func unavailable(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		for _, p := range []string{"LOADING", "BUSY", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "READONLY", "NOREPLICAS"} {
			if redis.HasErrorPrefix(err, p) {
				return true
			}
		}
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, redis.ErrClosed)
}

// decode reads a stored record. Anything that is not a record of this
// schema for this id is a *flows.CorruptError.
func decode[T any](key, id string, raw []byte, head func(*T) (schema int, id string)) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, &flows.CorruptError{Key: key, Err: err}
	}
	schema, got := head(v)
	if schema != flows.Schema {
		return nil, &flows.CorruptError{Key: key, Err: fmt.Errorf("schema %d, this bot reads %d", schema, flows.Schema)}
	}
	if got != id {
		return nil, &flows.CorruptError{Key: key, Err: errors.New("record holds another id")}
	}
	return v, nil
}

// corrupt is the error for a script's "corrupt" answer.
func corrupt(what, key string) error {
	return fmt.Errorf("%s: %w", what, &flows.CorruptError{
		Key: key,
		Err: fmt.Errorf("not a record of schema %d, or a key of the wrong type; left as it is", flows.Schema),
	})
}

// result reads a script's answer: a status word and its arguments.
func result(cmd *redis.Cmd) (string, []string, error) {
	v, err := cmd.StringSlice()
	if err != nil {
		return "", nil, err
	}
	if len(v) == 0 {
		return "", nil, errors.New("empty answer from script")
	}
	return v[0], v[1:], nil
}

var (
	_ flows.Store      = (*Store)(nil)
	_ flows.OfferStore = (*Store)(nil)
	_ flows.Deduper    = (*Store)(nil)
)
