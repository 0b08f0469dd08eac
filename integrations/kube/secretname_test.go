package kube

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// The production consumer table, as of August 2026, read from GOV.UK's
// public repositories; kept here so that a clone tests on its own.
const consumerTable = "testdata/secret-consumers-production.tsv"

func productionSecrets(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(consumerTable)
	if err != nil {
		t.Fatalf("read the production consumer table: %v", err)
	}
	defer f.Close()
	secrets := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 5 {
			t.Fatalf("malformed row %q", sc.Text())
		}
		secrets[cols[2]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return secrets
}

func TestSecretNameMatchesProductionSecrets(t *testing.T) {
	secrets := productionSecrets(t)
	c := &Client{}
	// API users by their Signon display name, applications by theirs.
	for _, tc := range []struct {
		user, app, want string
		production      bool
	}{
		{"Short URL Manager", "Publishing API", "signon-token-short-url-manager-publishing-api", true},
		{"Whitehall", "Search API", "signon-token-whitehall-search-api", true},
		{"Whitehall", "Asset Manager", "signon-token-whitehall-asset-manager", true},
		{"Smart Answers", "Link Checker API", "signon-token-smart-answers-link-checker-api", true},
		{"Content Block Manager", "Signon API", "signon-token-content-block-manager-signon-api", true},
		{"Publishing API", "Draft Content Store", "signon-token-publishing-api-draft-content-store", true},
		{"HMRC Manuals API", "Asset Manager", "signon-token-hmrc-manuals-api-asset-manager", true},
		{"Publisher", "Fact Check Manager", "signon-token-publisher-fact-check-manager", true},
		{"Fact Check Manager", "Publisher", "signon-token-fact-check-manager-publisher", true},
		{"Email Alert API", "Account API", "signon-token-email-alert-api-account-api", true},
		{"Content Data API", "Support API", "signon-token-content-data-api-support-api", true},
		{"Travel Advice Publisher", "Link Checker API", "signon-token-travel-advice-publisher-link-checker-api", true},
		// Punctuation and spacing collapse to single dashes.
		{"  Collections  Publisher ", "Email-Alert API", "signon-token-collections-publisher-email-alert-api", true},
		{"Local Links Manager (LLM)", "Link Checker API", "signon-token-local-links-manager-llm-link-checker-api", false},
	} {
		got := c.SecretName(tc.user, tc.app)
		if got != tc.want {
			t.Errorf("SecretName(%q, %q) = %q, want %q", tc.user, tc.app, got, tc.want)
		}
		if tc.production && !secrets[got] {
			t.Errorf("%q is not a production Secret", got)
		}
	}
	// Every production Secret name is already in parameterized form.
	for s := range secrets {
		if p := flows.Parameterize(s); p != s {
			t.Errorf("production Secret %q parameterizes to %q", s, p)
		}
	}
}
