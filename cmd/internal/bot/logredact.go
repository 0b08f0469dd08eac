package bot

import (
	"fmt"
	"log/slog"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// redactAttr applies token.Redact to every log line's message and
// attributes: errors and values from Kubernetes, Signon and Slack are
// logged as they come, and one of them could quote a token. A
// token.Secret logs as its own marker before it gets here.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(token.Redact(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(token.Redact(x.Error()))
		default:
			a.Value = slog.StringValue(token.Redact(fmt.Sprint(x)))
		}
	}
	return a
}
