package bot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/integrations/prom/promtest"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// logLines collects the bot's JSON log and hands out the address its HTTP
// listener reports.
type logLines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "http listening" {
			l.addr <- rec.Addr
		}
	}
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitHTTP polls url until it answers want, for state the bot only
// exposes over HTTP.
func waitHTTP(t *testing.T, url string, want int) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := get(t, url)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answered %d %q, want %d", url, code, body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBotServesHelpAndSurvivesDisconnects runs the whole bot (run, as main
// calls it) against the fake Slack and a real redis-server.
func TestBotServesHelpAndSurvivesDisconnects(t *testing.T) {
	redis := redistest.New(t)
	fake := slacktest.New(t)
	fake.AddUser(slacktest.User{ID: "U0ALICE", Name: "alice"})
	fake.AddChannel("C0RANDOM", "random", "U0ALICE")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := map[string]string{
		"SLACK_APP_TOKEN": fake.AppToken, "SLACK_BOT_TOKEN": fake.BotToken, "SLACK_API_URL": fake.URL(),
		"REDIS_URL": "redis://" + redis.Addr(), "HTTP_ADDR": "127.0.0.1:0", "STATE_PREFIX": "e2e", "LOG_LEVEL": "debug",
	}
	logs := &logLines{addr: make(chan string, 1)}
	botCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Program{}.Run(botCtx, nil, getenv(env), strings.NewReader(""), io.Discard, logs) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if t.Failed() {
			t.Logf("bot log:\n%s", logs)
		}
	}()

	var base string
	select {
	case addr := <-logs.addr:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("run returned early: %v\n%s", err, logs)
	case <-ctx.Done():
		t.Fatalf("no HTTP listener:\n%s", logs)
	}
	// No cluster can be reached here: the bot starts and says so.
	if body := waitHTTP(t, base+"/readyz", 200); !strings.HasPrefix(body, "slack: connected\nredis: ok\n") ||
		!strings.Contains(body, "\nenvironment production: unavailable: kubernetes config") || !strings.HasSuffix(body, "\nenvironment staging: not rotated (alerts are explained)\n") {
		t.Errorf("readyz = %q", body)
	}

	help := func(when string) {
		t.Helper()
		d := fake.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: "help", User: "U0ALICE", Channel: "C0RANDOM"})
		if _, err := d.WaitAck(ctx); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		// Answered in the ack: the reply and the ack reach Slack together.
		if got := d.Responses(); len(got) != 1 || got[0].Text != commands.Usage || got[0].ResponseType != "ephemeral" || !got[0].InAck {
			t.Errorf("%s: answers %+v, want the usage, privately, in the ack", when, got)
		}
	}
	help("first")

	// Slack redelivers an envelope it thinks was lost: Redis remembers the
	// command, so a command answered by a worker is not answered twice.
	d := fake.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: "list", User: "U0ALICE", Channel: "C0RANDOM"})
	if _, err := d.WaitResponses(ctx, 1); err != nil {
		t.Fatal(err)
	}
	again := d.Redeliver()
	waitHTTP(t, base+"/metrics", 200)
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(httpBody(t, base+"/metrics"), `signon_token_bot_slack_envelopes_total{outcome="handled",type="slash_commands"} 2`) {
		if time.Now().After(deadline) {
			t.Fatalf("the redelivery was not handled:\n%s", httpBody(t, base+"/metrics"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The fake records a post to the response_url under the delivery
	// it was last sent with.
	if n := len(d.Responses()) + len(again.Responses()); n != 1 {
		t.Errorf("%d answers after a redelivery, want 1", n)
	}

	fake.Disconnect("refresh_requested")
	if err := fake.WaitConnected(ctx, 2); err != nil {
		t.Fatal(err)
	}
	help("after a disconnect envelope")
	fake.DropConnections()
	if err := fake.WaitConnected(ctx, 3); err != nil {
		t.Fatal(err)
	}
	help("after a dropped connection")

	redis.Stop()
	if body := waitHTTP(t, base+"/readyz", 503); !strings.HasPrefix(body, "slack: connected\nredis: ") {
		t.Errorf("readyz with redis down = %q", body)
	}
	redis.Start()
	waitHTTP(t, base+"/readyz", 200)

	fake.FailNext("apps.connections.open", 1000, slacktest.Fault{Status: 503})
	fake.DropConnections()
	if body := waitHTTP(t, base+"/readyz", 503); !strings.HasPrefix(body, "slack: not connected: ") || !strings.Contains(body, "\nredis: ok\n") {
		t.Errorf("readyz with slack away = %q", body)
	}

	metrics := httpBody(t, base+"/metrics")
	for _, want := range []string{
		`signon_token_bot_slack_api_calls_total{method="auth.test",outcome="ok"} 1`,
		`signon_token_bot_slack_api_calls_total{method="response_url",outcome="ok"} 1`,
		`signon_token_bot_slack_envelopes_total{outcome="answered_in_ack",type="slash_commands"} 3`,
		"signon_token_bot_slack_ack_seconds_count",
		`signon_token_bot_redis_errors_total{kind="network"}`,
		"go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Prometheus takes a scrape whole or not at all; cmd/bench reads the
	// runtime's memory from it.
	scrape, err := promtest.Parse(metrics)
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, metrics)
	}
	for _, name := range []string{"go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes", "process_resident_memory_bytes"} {
		if scrape.Sum(name, nil) <= 0 {
			t.Errorf("/metrics: %s is not above 0", name)
		}
	}
	for _, secret := range []string{fake.BotToken, fake.AppToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds a token")
		}
	}
}

func httpBody(t *testing.T, url string) string {
	t.Helper()
	_, body := get(t, url)
	return body
}

// exampleAlert is ../shared/data's example alert as it reaches a channel.
// exampleAttachments are the example alert's attachments, as JSON.
func exampleAttachments(t *testing.T) string {
	t.Helper()
	var m struct {
		Attachments json.RawMessage `json:"attachments"`
	}
	if err := json.Unmarshal([]byte(exampleAlert(t)), &m); err != nil {
		t.Fatal(err)
	}
	return string(m.Attachments)
}

func exampleAlert(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../../commands/testdata/example-alert-integration.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestSubcommands(t *testing.T) {
	const nocfg = `"sender and channel not checked: give the configuration (-config or CONFIG_FILE) to check them"`
	senders := writeFile(t, "alertChannels: [C0EXAMPLE1]\nalertSenders: [B0EXAMPLE1]\n")
	channelsOnly := writeFile(t, "alertChannels: [C0123ABCD]\nserviceIdentity: bot@example.gov.uk\n")
	cases := []struct {
		args       []string
		env        map[string]string
		stdin      string
		wantOut    string
		wantErr    string
		wantErrOut string
	}{
		{args: []string{"version"}, wantOut: "signon-token-bot v1.2.3 ("},
		{args: []string{"demo", "-list"}, wantErr: "the demo is a command of its own, not the bot's: go run ./cmd/demo"},
		{args: []string{"check-config"}, env: validEnv(), wantErr: "environments.integration: serviceIdentity is not configured: Signon's event log needs an account to name when a requester has none\n" +
			"environments.production: serviceIdentity is not configured: Signon's event log needs an account to name when a requester has none"},
		{args: []string{"check-config"}, env: map[string]string{"SLACK_APP_TOKEN": "nope"},
			wantErr: "SLACK_APP_TOKEN must start with xapp-\nSLACK_BOT_TOKEN is required (the bot token, xoxb-...)\nREDIS_URL or REDIS_ADDRS is required"},
		{args: []string{"-config", "/nonexistent.yaml", "check-config"}, env: validEnv(), wantErr: "-config: open /nonexistent.yaml: no such file or directory"},
		{args: []string{"check-config", "-config", "/nonexistent.yaml"}, env: validEnv(), wantErr: "-config: open /nonexistent.yaml: no such file or directory"},
		{args: []string{"serve"}, env: map[string]string{},
			wantErr: "SLACK_APP_TOKEN is required (the app-level token, xapp-...)\nSLACK_BOT_TOKEN is required (the bot token, xoxb-...)\nREDIS_URL or REDIS_ADDRS is required"},
		{args: []string{"frobnicate"}, wantErr: `unknown command "frobnicate"`},
		{args: []string{"version", "extra"}, wantErr: `unexpected argument "extra" after version`},
		{args: []string{"-h"}, wantErrOut: "Usage: bot [-config file.yaml] [command]\n"},
		{args: []string{"parse-alert", "-h"}, wantErrOut: "Usage: bot parse-alert [-config file.yaml] < message.json\n"},
		{args: []string{"check-config", "-h"}, wantErrOut: "Usage: bot check-config [-config file.yaml]\n"},
		{args: []string{"parse-alert"}, stdin: exampleAlert(t),
			wantOut: `{"alert":"SignonApiUserTokenExpirySoon","status":"firing","environment":"integration","count":1,"tokens":[{"api_user":"content-tagger@alphagov.co.uk","application":"email-alert-api"}],"sender":"B0EXAMPLE1","sender_allowed":null,"why":[` + nocfg + `]}` + "\n"},
		{args: []string{"parse-alert"}, stdin: `{"event":` + exampleAlert(t) + `}`,
			wantOut: `{"alert":"SignonApiUserTokenExpirySoon","status":"firing","environment":"integration","count":1,"tokens":[{"api_user":"content-tagger@alphagov.co.uk","application":"email-alert-api"}],"sender":"B0EXAMPLE1","sender_allowed":null,"why":[` + nocfg + `]}` + "\n"},
		{args: []string{"parse-alert", "-config", senders}, stdin: exampleAlert(t),
			wantOut: `{"alert":"SignonApiUserTokenExpirySoon","status":"firing","environment":"integration","count":1,"tokens":[{"api_user":"content-tagger@alphagov.co.uk","application":"email-alert-api"}],"sender":"B0EXAMPLE1","sender_allowed":true,"why":[]}` + "\n"},
		{args: []string{"parse-alert", "-config", senders}, stdin: `{"user":"U0MALLORY","attachments":` + exampleAttachments(t) + `}`,
			wantOut: `{"alert":"SignonApiUserTokenExpirySoon","status":"firing","environment":"integration","count":1,"tokens":[{"api_user":"content-tagger@alphagov.co.uk","application":"email-alert-api"}],"sender":"a person","sender_allowed":false,"why":["wrong sender: a person is not among alertSenders (B0EXAMPLE1)","channel not checked: the message has no \"channel\""]}` + "\n"},
		{args: []string{"parse-alert"}, stdin: `{"channel":"C0ALERTS","text":"SignonApiUserTokenExpirySoon fired again?"}`,
			wantOut: `{"alert":null,"status":null,"environment":null,"count":null,"tokens":[],"sender":"a person","sender_allowed":null,"why":["not the alert: it has no attachments; Alertmanager's Slack notifier posts the alert as one, and text that only mentions SignonApiUserTokenExpirySoon is not the alert",` + nocfg + `]}` + "\n"},
		{args: []string{"parse-alert", "-config", senders}, stdin: strings.Replace(exampleAlert(t), `"C0EXAMPLE1"`, `"C0RANDOM"`, 1),
			wantOut: `{"alert":"SignonApiUserTokenExpirySoon","status":"firing","environment":"integration","count":1,"tokens":[{"api_user":"content-tagger@alphagov.co.uk","application":"email-alert-api"}],"sender":"B0EXAMPLE1","sender_allowed":true,"why":["not in an alert channel: \"C0RANDOM\" is not among alertChannels (C0EXAMPLE1)"]}` + "\n"},
		{args: []string{"parse-alert", "-config", senders}, stdin: strings.ReplaceAll(exampleAlert(t), "SignonApiUserTokenExpirySoon", "SignonApiUserTokenExpired"),
			wantOut: `{"alert":null,"status":null,"environment":null,"count":null,"tokens":[],"sender":"B0EXAMPLE1","sender_allowed":true,"why":["another alert: its title names \"SignonApiUserTokenExpired\", not SignonApiUserTokenExpirySoon"]}` + "\n"},
		{args: []string{"parse-alert", "-config", senders}, stdin: `{"bot_id":"B0EXAMPLE1","channel":"C0EXAMPLE1","attachments":[{"title":":warning: WARNING: SignonApiUserTokenExpirySoon","fallback":"[FIRING:3] SignonApiUserTokenExpirySoon (integration warning)"}]}`,
			wantOut: `{"alert":"SignonApiUserTokenExpirySoon","status":"firing","environment":null,"count":3,"tokens":[],"sender":"B0EXAMPLE1","sender_allowed":true,"why":["no labels found: the alert groups 3 alerts, so its subject carries only their common labels, and it has no \"Expiring Tokens\" list; the bot asks Signon which tokens expire within expiryWindow"]}` + "\n"},
		{args: []string{"parse-alert", "-config", senders}, stdin: `{"bot_id":"B0EXAMPLE1","channel":"C0EXAMPLE1","attachments":[{"title":":warning: WARNING: SignonApiUserTokenExpirySoon","fallback":"[FIRING:1] SignonApiUserTokenExpirySoon (integration warning)"}]}`,
			wantOut: `{"alert":"SignonApiUserTokenExpirySoon","status":"firing","environment":null,"count":1,"tokens":[],"sender":"B0EXAMPLE1","sender_allowed":true,"why":["no labels found: neither an \"Expiring Tokens\" list (api_user: ` + "`...`" + `, application: ` + "`...`" + `) nor api_user and application values in its subject; the bot asks Signon which tokens expire within expiryWindow"]}` + "\n"},
		{args: []string{"parse-alert", "-config", senders}, stdin: `{"subtype":"message_changed","bot_id":"B0EXAMPLE1","channel":"C0EXAMPLE1"}`,
			wantOut: `{"alert":null,"status":null,"environment":null,"count":null,"tokens":[],"sender":"B0EXAMPLE1","sender_allowed":true,"why":["not the alert: a message of subtype \"message_changed\"; only new messages are read, not edits"]}` + "\n"},
		{args: []string{"check-config", "-config", channelsOnly}, env: validEnv(),
			wantOut: "configuration is valid\nconfig file: " + channelsOnly + "\nslack api: https://slack.com/api/\nredis: REDIS_URL (standalone)\nstate prefix: stb\nhttp: :8080\nalert channels: C0123ABCD\nalert senders: none\n"},
		{args: []string{"parse-alert"}, stdin: `{"text": `, wantErr: "parse-alert: stdin is not a Slack message as JSON: unexpected end of JSON input"},
		{args: []string{"parse-alert"}, stdin: "", wantErr: "parse-alert: stdin is empty: pipe one Slack message as JSON into it"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Program{Version: "v1.2.3"}.Run(context.Background(), c.args, getenv(c.env), strings.NewReader(c.stdin), &out, &errOut)
			if fmt.Sprint(err) != c.wantErr && !(err == nil && c.wantErr == "") {
				t.Errorf("error = %v, want %q", err, c.wantErr)
			}
			if !strings.HasPrefix(out.String(), c.wantOut) {
				t.Errorf("stdout = %q, want it to begin %q", out.String(), c.wantOut)
			}
			if !strings.HasPrefix(errOut.String(), c.wantErrOut) {
				t.Errorf("stderr = %q, want it to begin %q", errOut.String(), c.wantErrOut)
			}
		})
	}
}
