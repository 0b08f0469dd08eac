package flows

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The environments GOV.UK runs. Others can be configured.
const (
	Integration = "integration"
	Staging     = "staging"
	Production  = "production"
)

// Key names one token lineage: an API user's tokens for one application in
// one environment. At most one run is active per Key.
type Key struct {
	Environment string `json:"environment"`
	// APIUser is the API user's email, lower case.
	APIUser string `json:"api_user"`
	// Application is the application's parameterised name, as the alert
	// labels it ("publishing-api").
	Application string `json:"application"`
}

func (k Key) String() string {
	return fmt.Sprintf("%s/%s/%s", k.Environment, k.APIUser, k.Application)
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// maxSlug bounds an application's name; Signon's longest is under 40.
const maxSlug = 100

// Quote quotes user input for an answer, cut to a length a person can
// read: a 40 KB argument must not come back as a 40 KB message.
func Quote(s string) string { return strconv.Quote(Clip(s)) }

// Clip cuts s to 60 characters, saying how long it was.
func Clip(s string) string {
	const max = 60
	n := utf8.RuneCountInString(s)
	if n <= max {
		return s
	}
	cut := 0
	for range max {
		_, size := utf8.DecodeRuneInString(s[cut:])
		cut += size
	}
	return s[:cut] + fmt.Sprintf("… (%d characters)", n)
}

// Validate checks the shape of a key, not whether Signon knows it.
func (k Key) Validate() error {
	if k.Environment == "" {
		return fmt.Errorf("%w: no environment", ErrBadInput)
	}
	if err := ValidateEmail(k.APIUser); err != nil {
		return err
	}
	return ValidateApplication(k.Application)
}

// ValidateApplication accepts an application's name as the alert labels
// it: parameterised, like publishing-api.
func ValidateApplication(s string) error {
	if len(s) > maxSlug || !slugPattern.MatchString(s) {
		return fmt.Errorf("%w: application %s is not an application name like publishing-api", ErrBadInput, Quote(s))
	}
	return nil
}

// ValidateEmail accepts a bare address (no display name, no angle brackets).
func ValidateEmail(s string) error {
	bad := func() error { return fmt.Errorf("%w: %s is not an email address", ErrBadInput, Quote(s)) }
	if len(s) > 254 || strings.ContainsAny(s, " <>\"'`") {
		return bad()
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s || a.Name != "" {
		return bad()
	}
	return nil
}

// Parameterize does what Rails' String#parameterize does to ASCII names:
// lower case, every run of characters other than a-z and 0-9 becomes one
// "-", with no "-" at either end. Signon labels its metrics and names its
// Kubernetes Secrets this way.
func Parameterize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}
