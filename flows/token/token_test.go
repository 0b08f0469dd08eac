package token_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// Every way Go code prints or encodes a value redacts a Secret.
func TestSecretNeverPrints(t *testing.T) {
	s := token.Generate()
	plain := s.Reveal()
	if !token.ValidFormat(plain) || len(plain) != 43 {
		t.Fatalf("Generate made a token not in Signon's format (fingerprint %s)", s.Fingerprint())
	}
	type wrapper struct {
		Name   string
		Secret token.Secret
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, wrapper{"w", s}), fmt.Sprintf(verb, &wrapper{"w", s}))
	}
	outputs = append(outputs, fmt.Sprint(s), fmt.Sprintln(s), fmt.Errorf("wrapped: %w", errors.New(fmt.Sprint(s))).Error())

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("issued", "token", s, "wrapped", wrapper{"w", s})
	slog.New(slog.NewTextHandler(&logs, nil)).Info("issued", "token", s)
	outputs = append(outputs, logs.String())

	for _, out := range outputs {
		if strings.Contains(out, plain) {
			t.Fatalf("plaintext printed in %q", strings.ReplaceAll(out, plain, "<PLAINTEXT>"))
		}
	}
	if _, err := json.Marshal(s); err == nil {
		t.Error("json.Marshal of a Secret succeeded")
	}
	if _, err := json.Marshal(wrapper{"w", s}); err == nil {
		t.Error("json.Marshal of a struct holding a Secret succeeded")
	}
	if _, err := json.Marshal(map[token.Secret]int{s: 1}); err == nil {
		t.Error("json.Marshal of a map keyed by a Secret succeeded")
	}
}

func TestFingerprints(t *testing.T) {
	s := token.NewSecret(token.Generate().Reveal())
	fp := s.Fingerprint()
	if len(fp) != token.FingerprintLen || fp != token.FingerprintOf(s.Reveal()) {
		t.Fatalf("fingerprint %q", fp)
	}
	// sha256sum's output, as a pod prints it, gives the same fingerprint.
	full := "ab12" + strings.Repeat("0", 60) + "  -"
	if got := token.FromHexDigest(full); got != token.Fingerprint(full[:16]) {
		t.Errorf("FromHexDigest = %q", got)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("z", 64)} {
		if got := token.FromHexDigest(bad); got != "" {
			t.Errorf("FromHexDigest(%q) = %q, want empty", bad, got)
		}
	}
	if (token.Secret{}).Fingerprint() != "" || !(token.Secret{}).Empty() {
		t.Error("the empty secret has a fingerprint")
	}
	if fp.Short() != string(fp[:8]) {
		t.Errorf("Short = %q", fp.Short())
	}
}

func TestFormatsAndPattern(t *testing.T) {
	for _, tc := range []struct {
		s     string
		valid bool
	}{
		{token.Generate().Reveal(), true},
		{strings.Repeat("a1", 32), true},       // 64 hex: made before 2019
		{strings.Repeat("a", 42), false},       // too short
		{strings.Repeat("a", 44), false},       // too long
		{strings.Repeat("a", 42) + "=", false}, // padding is not Signon's
		{strings.Repeat("A", 64), false},       // hex is lower case
	} {
		if got := token.ValidFormat(tc.s); got != tc.valid {
			t.Errorf("ValidFormat(%d chars) = %v, want %v", len(tc.s), got, tc.valid)
		}
	}
	tok := token.Generate().Reveal()
	if !token.Pattern.MatchString("Authorization: Bearer " + tok + "\n") {
		t.Error("Pattern misses a token in a header")
	}
	if token.Pattern.MatchString("x" + tok) {
		t.Error("Pattern matches inside a longer run")
	}
}
