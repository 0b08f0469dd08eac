package commands

import (
	"bytes"
	"log/slog"
	"testing"
)

// countingHandler counts the attributes handed to WithAttrs.
type countingHandler struct {
	slog.Handler
	withAttrs *int
}

func (c countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	*c.withAttrs += len(as)
	return countingHandler{Handler: c.Handler.WithAttrs(as), withAttrs: c.withAttrs}
}

func TestLazyLoggerFormatsOnlyWhatIsLoggedAndAsWithWould(t *testing.T) {
	var lazy, eager bytes.Buffer
	n := 0
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	base := slog.New(countingHandler{Handler: slog.NewJSONHandler(&lazy, opts), withAttrs: &n})
	log := lazyLogger(base, "envelope", "E1", "retry", 0).With("user", "U0ALICE")
	log.Debug("not logged at info", "x", 1)
	if n != 0 {
		t.Fatalf("%d attributes formatted before anything was logged", n)
	}
	log.WithGroup("g").Info("refused", "err", "no")
	log.Info("again")

	want := slog.New(slog.NewJSONHandler(&eager, opts)).With("envelope", "E1", "retry", 0).With("user", "U0ALICE")
	want.WithGroup("g").Info("refused", "err", "no")
	want.Info("again")
	if lazy.String() != eager.String() {
		t.Errorf("lazy logger wrote\n%s\nwith wrote\n%s", lazy.String(), eager.String())
	}
}
