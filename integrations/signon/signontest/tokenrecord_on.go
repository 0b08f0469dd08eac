//go:build tokenrecord

package signontest

import (
	"fmt"
	"os"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// recordToken appends the token to the file EnvTokenRecord names. A token
// that cannot be recorded would make the leak scan miss it, so failing to
// write is fatal.
func recordToken(s token.Secret) {
	path := os.Getenv(EnvTokenRecord)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		// One short write: lines from parallel test processes do not
		// interleave.
		_, err = fmt.Fprintf(f, "%s %s\n", s.Fingerprint(), s.Reveal())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		panic(fmt.Sprintf("signontest: record a token for the leak scan: %v", err))
	}
}
