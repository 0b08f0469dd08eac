// Package token holds a bearer token's plaintext so that it cannot leak by
// accident, and the fingerprint that everything else compares instead.
//
// A Secret prints, logs and marshals as a redaction marker. The only way to
// the plaintext is Reveal, which the private hand-off uses and nothing else.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
)

// FingerprintLen is the number of hex digits of SHA-256 kept in a
// Fingerprint: 64 bits, plenty to tell a handful of tokens apart, and short
// enough to read aloud in a thread.
const FingerprintLen = 16

// Fingerprint is the first FingerprintLen hex digits of the SHA-256 of a
// token. It is safe to store, log and show.
type Fingerprint string

// FingerprintOf returns the fingerprint of a plaintext token.
func FingerprintOf(plaintext string) Fingerprint {
	sum := sha256.Sum256([]byte(plaintext))
	return Fingerprint(hex.EncodeToString(sum[:])[:FingerprintLen])
}

// FromHexDigest turns a full or partial SHA-256 hex digest (as printed by
// sha256sum inside a pod) into a Fingerprint. It returns "" when the digest
// is too short or not hex.
func FromHexDigest(digest string) Fingerprint {
	if len(digest) < FingerprintLen {
		return ""
	}
	d := digest[:FingerprintLen]
	if _, err := hex.DecodeString(d); err != nil {
		return ""
	}
	return Fingerprint(d)
}

// Short is the form shown in Slack: the first 8 digits.
func (f Fingerprint) Short() string {
	if len(f) > 8 {
		return string(f[:8])
	}
	return string(f)
}

// Secret is a token's plaintext. Its zero value is empty.
type Secret struct {
	v string
}

// NewSecret wraps a plaintext token.
func NewSecret(plaintext string) Secret { return Secret{v: plaintext} }

// Reveal returns the plaintext. Call it only to hand the token to the person
// who asked for it, never to log, store or post it.
func (s Secret) Reveal() string { return s.v }

// Empty reports whether the secret holds nothing.
func (s Secret) Empty() bool { return s.v == "" }

// Fingerprint returns the secret's fingerprint, or "" for an empty secret.
func (s Secret) Fingerprint() Fingerprint {
	if s.v == "" {
		return ""
	}
	return FingerprintOf(s.v)
}

const redacted = "[token redacted]"

// String redacts, so that fmt's %s and %v cannot print the plaintext.
func (s Secret) String() string { return redacted }

// GoString redacts for %#v.
func (s Secret) GoString() string { return redacted }

// Format redacts for every verb, %x and %q included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue redacts in log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON refuses: a token never goes into a stored record.
func (s Secret) MarshalJSON() ([]byte, error) {
	return nil, fmt.Errorf("token.Secret: refusing to marshal a token's plaintext")
}

// MarshalText refuses for the same reason (it covers encoders that prefer
// TextMarshaler, and map keys).
func (s Secret) MarshalText() ([]byte, error) {
	return nil, fmt.Errorf("token.Secret: refusing to marshal a token's plaintext")
}

// Pattern matches a token in Signon's format (SecureRandom.urlsafe_base64(32)):
// exactly 43 characters of [A-Za-z0-9_-], not part of a longer run. Leak
// scans use it.
var Pattern = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])([A-Za-z0-9_-]{43})(?:$|[^A-Za-z0-9_-])`)

// ValidFormat reports whether s looks like a Signon token: the current
// 43-character url-safe form, or the 64 hex digits of tokens made before 2019.
func ValidFormat(s string) bool {
	return current.MatchString(s) || legacy.MatchString(s)
}

var (
	current = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	legacy  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Generate makes a new token the way Signon does (32 random bytes,
// url-safe base64 without padding: 43 characters). The Signon double uses it.
func Generate() Secret {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("token: read random: %v", err))
	}
	return Secret{v: base64.RawURLEncoding.EncodeToString(b)}
}
