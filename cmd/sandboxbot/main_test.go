package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Without a sandbox to point at, the sandboxed bot does not start, and
// says what it needs.
func TestSandboxURLIsRequired(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"", "SANDBOX_URL is required: the address of the integrations/sandbox server that serves every rotating environment"},
		{"127.0.0.1:8080", `SANDBOX_URL: "127.0.0.1:8080" is not an http(s) URL`},
	} {
		var out bytes.Buffer
		err := run(context.Background(), []string{"version"}, func(k string) string {
			if k == "SANDBOX_URL" {
				return c.url
			}
			return ""
		}, strings.NewReader(""), &out, &out)
		if err == nil || err.Error() != c.want || out.Len() != 0 {
			t.Errorf("SANDBOX_URL=%q: error %v, output %q; want %q and no output", c.url, err, out.String(), c.want)
		}
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"version"}, func(k string) string { return map[string]string{"SANDBOX_URL": "http://127.0.0.1:1"}[k] }, strings.NewReader(""), &out, &out)
	if err != nil || !strings.HasPrefix(out.String(), "signon-token-bot sandbox (") {
		t.Errorf("with SANDBOX_URL: error %v, output %q", err, out.String())
	}
}
