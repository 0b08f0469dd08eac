package promtest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Scrape asks reg for /metrics as Prometheus does and parses the answer,
// failing t if it does not parse.
func Scrape(t testing.TB, reg http.Handler) Exposition {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d", rec.Code)
	}
	e, err := Parse(rec.Body.String())
	if err != nil {
		t.Fatalf("scrape: %v\n%s", err, rec.Body.String())
	}
	return e
}
