package kube

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

func TestLiveCheckConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	const secret = "signon-token-email-alert-frontend-email-alert-api"
	e.writeToken(t, secret, token.Generate())
	e.deployReady(t, "email-alert-frontend", "EMAIL_ALERT_API_BEARER_TOKEN", secret, 1)
	consumer := flows.Consumer{Kind: "Deployment", Name: "email-alert-frontend", Container: "app", Variable: "EMAIL_ALERT_API_BEARER_TOKEN", Via: "env"}

	pass := e.clientAs(t, e.cp.Config, Config{LiveChecks: map[string][]string{
		"email-alert-api": {"sh", "-c", `[ ${#` + VariablePlaceholder + `} -eq 43 ] && echo "token has Signon's length"`},
	}})
	lc, err := pass.LiveCheck(ctx, consumer, "email-alert-api")
	if err != nil {
		t.Fatal(err)
	}
	if !lc.Configured || !lc.Passed || lc.Pod == "" || !reflect.DeepEqual(lc.Output, []string{"token has Signon's length"}) {
		t.Errorf("LiveCheck = %+v, want a pass", lc)
	}
	if !strings.Contains(lc.Command, "EMAIL_ALERT_API_BEARER_TOKEN") {
		t.Errorf("Command %q does not name the variable", lc.Command)
	}

	fail := e.clientAs(t, e.cp.Config, Config{LiveChecks: map[string][]string{
		"email-alert-api": {"sh", "-c", `echo "HTTP 401 from email-alert-api"; exit 1`},
	}})
	lc, err = fail.LiveCheck(ctx, consumer, "email-alert-api")
	if err != nil {
		t.Fatal(err)
	}
	if !lc.Configured || lc.Passed || !slices.Contains(lc.Output, "HTTP 401 from email-alert-api") {
		t.Errorf("LiveCheck = %+v, want a failure with the command's output", lc)
	}

	if lc, err := pass.LiveCheck(ctx, consumer, "asset-manager"); err != nil || lc.Configured {
		t.Errorf("LiveCheck for an application with no check = %+v, %v; want not configured", lc, err)
	}
	cron := flows.Consumer{Kind: "CronJob", Name: "email-alert-frontend-nightly", Container: "task", Variable: "EMAIL_ALERT_API_BEARER_TOKEN"}
	if lc, err := pass.LiveCheck(ctx, cron, "email-alert-api"); err != nil || lc.Configured {
		t.Errorf("LiveCheck from a CronJob = %+v, %v; want not configured", lc, err)
	}
}

// The built-in publishing-api check is the runbook's console call. It runs
// under real Ruby, with stand-ins for `rails runner`, Plek and
// gds-api-adapters, against a strict fake Publishing API that accepts only
// the current token.
func TestLiveCheckPublishingAPIBuiltin(t *testing.T) {
	t.Parallel()
	ruby := os.Getenv("SIGNON_BOT_RUBY")
	if ruby == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SIGNON_BOT_RUBY is not set under CI: run `make test`")
		}
		t.Skip("SIGNON_BOT_RUBY is not set; run `make test` to run the live check under Ruby")
	}
	var current atomic.Pointer[token.Secret]
	first := token.Generate()
	current.Store(&first)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/lookup-by-base-path" {
			t.Errorf("unexpected call to Publishing API: %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+current.Load().Reveal() {
			http.Error(w, `{"error":{"code":401,"message":"Unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		var body struct {
			BasePaths []string `json:"base_paths"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !slices.Equal(body.BasePaths, []string{"/"}) {
			http.Error(w, "bad request", http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"/":"f3bbdec2-0e62-4520-a7fd-6ffd5d36e03a"}`))
	}))
	t.Cleanup(api.Close)

	rails := fakeRails(t)
	const image = "ghcr.io/alphagov/short-url-manager:release"
	e := newEnv(t, &kubetest.Kubelet{Images: map[string][]string{image: {"sh", ruby, rails}}}, Config{})
	ctx := testContext(t)
	const variable = "PUBLISHING_API_BEARER_TOKEN"
	d := kubetest.ConsumerDeployment(e.ns, "short-url-manager", variable, testSecret)
	d.Spec.Template.Spec.Containers[0].Env = append(d.Spec.Template.Spec.Containers[0].Env,
		corev1.EnvVar{Name: "PLEK_SERVICE_PUBLISHING_API_URI", Value: api.URL})
	e.writeToken(t, testSecret, first)
	e.mustCreate(t, d)
	if ro, err := e.client.WaitRollout(ctx, d.Name, time.Time{}, 30*time.Second); err != nil || !ro.Complete {
		t.Fatalf("rollout: %+v, %v", ro, err)
	}
	consumer := flows.Consumer{Kind: "Deployment", Name: d.Name, Container: "app", Variable: variable, Via: "env"}

	lc, err := e.client.LiveCheck(ctx, consumer, "publishing-api")
	if err != nil {
		t.Fatal(err)
	}
	if !lc.Configured || !lc.Passed || !slices.Contains(lc.Output, `lookup_content_id(base_path: "/") = "f3bbdec2-0e62-4520-a7fd-6ffd5d36e03a"`) {
		t.Errorf("LiveCheck with the current token = %+v, want a pass", lc)
	}

	// Signon moves on; the pod still has the token it started with.
	next := token.Generate()
	current.Store(&next)
	lc, err = e.client.LiveCheck(ctx, consumer, "publishing-api")
	if err != nil {
		t.Fatal(err)
	}
	if lc.Passed || !slices.ContainsFunc(lc.Output, func(l string) bool { return strings.Contains(l, "HTTPUnauthorized") }) {
		t.Errorf("LiveCheck with a stale token = %+v, want a failure saying unauthorised", lc)
	}
}

// fakeRails writes a `rails` that runs `rails runner CODE` under plain
// Ruby with stand-ins for Plek and gds-api-adapters' Publishing API
// client, and refuses anything else.
func fakeRails(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"lib/plek.rb": `class Plek
  def find(service)
    ENV.fetch("PLEK_SERVICE_#{service.upcase.tr("-", "_")}_URI")
  end
end
`,
		"lib/gds_api/publishing_api.rb": `require "json"
require "net/http"
require "uri"

module GdsApi
  class HTTPErrorResponse < StandardError; end
  class HTTPUnauthorized < HTTPErrorResponse; end

  class PublishingApi
    def initialize(endpoint, bearer_token:)
      raise ArgumentError, "no bearer token" if bearer_token.to_s.empty?
      @endpoint = endpoint
      @bearer_token = bearer_token
    end

    def lookup_content_id(base_path:)
      lookup_content_ids(base_paths: [base_path])[base_path]
    end

    def lookup_content_ids(base_paths:)
      uri = URI("#{@endpoint}/lookup-by-base-path")
      res = Net::HTTP.post(uri, JSON.generate(base_paths: base_paths),
        "Content-Type" => "application/json", "Authorization" => "Bearer #{@bearer_token}")
      raise HTTPUnauthorized, "URL: #{uri} Response body: #{res.body}" if res.code == "401"
      raise HTTPErrorResponse, "URL: #{uri} status #{res.code}" unless res.code == "200"
      JSON.parse(res.body)
    end
  end
end
`,
		"rails": `#!/bin/sh
[ "$1" = runner ] && [ $# -eq 2 ] || { echo "fake rails: only 'rails runner CODE' is supported" >&2; exit 64; }
exec ruby -I` + filepath.Join(dir, "lib") + ` -rplek -e "$2"
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "rails")
}
