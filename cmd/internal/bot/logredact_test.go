package bot

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows/token"
)

func TestTheLoggerRedactsTokensInEveryAttribute(t *testing.T) {
	tok := token.Generate().Reveal()
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log := newLogger(&Config{LogFormat: format}, &buf)
		log.Error("exec said bearer-"+tok, "err", fmt.Errorf("pod: %w", errors.New("X_"+tok)), "line", tok+"-x", "lines", []string{"Authorization: " + tok},
			"secret", "signon-token-content-tagger-email-alert-api")
		out := buf.String()
		if strings.Contains(out, tok[:32]) || strings.Count(out, token.Masked) != 4 {
			t.Errorf("%s log holds a token or masks %d places, want 4:\n%s", format, strings.Count(out, token.Masked), out)
		}
		if !strings.Contains(out, "signon-token-content-tagger-email-alert-api") {
			t.Errorf("%s log lost a Secret name:\n%s", format, out)
		}
	}
}
