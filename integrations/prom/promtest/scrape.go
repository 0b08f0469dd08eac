package promtest

import (
	"bytes"
	"io"
	"testing"
)

// Scrape writes what reg serves and parses it, failing t if it does not
// parse.
func Scrape(t testing.TB, reg io.WriterTo) Exposition {
	t.Helper()
	var b bytes.Buffer
	if _, err := reg.WriteTo(&b); err != nil {
		t.Fatalf("scrape: %v", err)
	}
	e, err := Parse(b.String())
	if err != nil {
		t.Fatalf("scrape: %v\n%s", err, b.String())
	}
	return e
}
