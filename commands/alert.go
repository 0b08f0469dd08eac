package commands

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/alphagov/signon-token-bot/flows"
)

// AlertName is the Prometheus alert the bot answers.
const AlertName = "SignonApiUserTokenExpirySoon"

// Alert statuses, as Alertmanager names them.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// AlertMessage is what the parser reads of a Slack message: Alertmanager's
// Slack notifier posts legacy attachments, not blocks.
type AlertMessage struct {
	// Subtype is the message event's subtype: "" or "bot_message" for a
	// new message, "message_changed" for an edit.
	Subtype     string
	Text        string
	Attachments []slackapi.Attachment
	// BotID and AppID say which integration posted the message: Slack
	// sets them, so unlike a username or an attachment's look, a person
	// cannot forge them. A person's own message has neither.
	BotID, AppID string
}

// AlertMessageOf takes the parts of a message event the parser reads.
// slack-go does not decode a message event's top-level app_id, so the app
// comes from bot_profile, which Slack sends beside it.
func AlertMessageOf(ev *slackevents.MessageEvent) AlertMessage {
	m := AlertMessage{Subtype: ev.SubType, Text: ev.Text, BotID: ev.BotID}
	if ev.Message != nil {
		m.Attachments = ev.Message.Attachments
		if m.BotID == "" {
			m.BotID = ev.Message.BotID
		}
		if ev.Message.BotProfile != nil {
			m.AppID = ev.Message.BotProfile.AppID
		}
	}
	return m
}

// SentBy reports whether one of senders (bot ids B…, app ids A…) posted
// the message. With no senders, nobody did.
func (m AlertMessage) SentBy(senders []string) bool {
	return (m.BotID != "" && slices.Contains(senders, m.BotID)) || (m.AppID != "" && slices.Contains(senders, m.AppID))
}

// Sender names who posted the message, for logs: its bot and app, or
// "a person".
func (m AlertMessage) Sender() string {
	switch {
	case m.BotID != "" && m.AppID != "":
		return m.BotID + " (app " + m.AppID + ")"
	case m.BotID != "":
		return m.BotID
	case m.AppID != "":
		return "app " + m.AppID
	}
	return "a person"
}

// Alert is what a message says about SignonApiUserTokenExpirySoon. Its
// zero value (Name "") is "not such an alert".
type Alert struct {
	Name   string
	Status string
	// Environment is "" when the message does not say.
	Environment string
	// Count is the N of [FIRING:N]; 0 when the message does not give it.
	Count int
	// Tokens are the (API user, application) pairs the message itself
	// names, in order, each well-formed.
	Tokens []AlertToken
}

// AlertToken is one expiring token an alert names.
type AlertToken struct {
	APIUser     string `json:"api_user"`
	Application string `json:"application"`
}

var (
	// titlePattern: ":warning: WARNING: SignonApiUserTokenExpirySoon",
	// ":green_tick: RESOLVED: SignonApiUserTokenExpirySoon".
	titlePattern = regexp.MustCompile(`^(?::[A-Za-z0-9_+-]+:\s*)?([A-Z]+):\s*([A-Za-z0-9_:]+)\s*$`)
	// fallbackPattern is Alertmanager's default subject: "[FIRING:2]
	// <group label values> (<other common label values>) | <url>".
	fallbackPattern = regexp.MustCompile(`^\[(FIRING|RESOLVED)(?::(\d{1,6}))?\]\s+([^(|]*?)\s*(?:\(([^)]*)\))?\s*(?:\|\s*(\S+))?\s*$`)
	// listPattern is one line of the "Expiring Tokens" list a fixed
	// template adds: "• api_user: `EMAIL`, application: `APP`".
	listPattern = regexp.MustCompile("api_user:\\s*`([^`\\n]{1,300})`\\s*,\\s*application:\\s*`([^`\\n]{1,300})`")
	// hostPattern finds the environment in Alertmanager's address.
	hostPattern = regexp.MustCompile(`^alertmanager\.eks\.([a-z0-9-]+)\.govuk\.digital$`)
	// mailtoPattern is how Slack links an email address in mrkdwn.
	mailtoPattern = regexp.MustCompile(`^<mailto:([^|>]+)(?:\|[^>]*)?>$`)
	envPattern    = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
)

// ParseAlert reads a message as Alertmanager's Slack notifier writes it.
// Edits, messages that only mention the alert's name, and other alerts
// are not alerts. It is pure, so that the bot and `bot parse-alert` agree.
func ParseAlert(m AlertMessage) Alert {
	if m.Subtype != "" && m.Subtype != "bot_message" {
		return Alert{}
	}
	for _, a := range m.Attachments {
		if al, ok := parseAttachment(a); ok {
			return al
		}
	}
	return Alert{}
}

func parseAttachment(a slackapi.Attachment) (Alert, bool) {
	fb := fallbackPattern.FindStringSubmatch(strings.TrimSpace(a.Fallback))
	fromFallback := fb != nil && hasWord(fb[3], AlertName)
	t := titlePattern.FindStringSubmatch(strings.TrimSpace(a.Title))
	fromTitle := t != nil && t[2] == AlertName
	if !fromFallback && !fromTitle {
		return Alert{}, false
	}
	al := Alert{Name: AlertName, Status: StatusFiring}
	switch {
	case fromFallback:
		al.Status = strings.ToLower(fb[1])
		if fb[2] != "" {
			al.Count, _ = strconv.Atoi(fb[2])
		}
	case t[1] == "RESOLVED":
		al.Status = StatusResolved
	}
	for _, f := range a.Fields {
		if strings.EqualFold(strings.TrimSpace(f.Title), "Status") && !fromFallback {
			if strings.Contains(strings.ToLower(f.Value), "resolved") {
				al.Status = StatusResolved
			}
		}
	}
	al.Environment = environmentOf(a, fb)

	al.Tokens = listedTokens(a.Text)
	if len(al.Tokens) == 0 && fromFallback && (al.Count == 1 || (al.Status == StatusResolved && al.Count == 0)) {
		if tok, ok := fallbackToken(strings.Fields(fb[4]), al.Environment); ok {
			al.Tokens = []AlertToken{tok}
		}
	}
	return al, true
}

// environmentOf reads the Environment field, else the environment in
// Alertmanager's host name.
func environmentOf(a slackapi.Attachment, fb []string) string {
	for _, f := range a.Fields {
		if strings.EqualFold(strings.TrimSpace(f.Title), "Environment") {
			if env := strings.ToLower(strings.TrimSpace(f.Value)); envPattern.MatchString(env) {
				return env
			}
		}
	}
	links := []string{a.TitleLink}
	if fb != nil {
		links = append(links, fb[5])
	}
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil {
			continue
		}
		if m := hostPattern.FindStringSubmatch(u.Hostname()); m != nil {
			return m[1]
		}
	}
	return ""
}

// listedTokens reads the "Expiring Tokens" list; malformed entries are
// left out.
func listedTokens(text string) []AlertToken {
	var out []AlertToken
	for _, m := range listPattern.FindAllStringSubmatch(text, 200) {
		tok := AlertToken{APIUser: strings.ToLower(unmailto(strings.TrimSpace(m[1]))), Application: strings.TrimSpace(m[2])}
		if validToken(tok) && !containsToken(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

// fallbackToken finds the API user and application among the label
// values of a one-alert subject. Alertmanager sorts them by label name,
// and "api_user" sorts just before "application". A value equal to the
// environment is the environment label (several alerts of one API user
// share it, not their applications).
func fallbackToken(values []string, env string) (AlertToken, bool) {
	for i, v := range values {
		email := strings.ToLower(unmailto(v))
		if flows.ValidateEmail(email) != nil {
			continue
		}
		if i+1 >= len(values) || values[i+1] == env {
			return AlertToken{}, false
		}
		tok := AlertToken{APIUser: email, Application: values[i+1]}
		return tok, validToken(tok)
	}
	return AlertToken{}, false
}

func validToken(t AlertToken) bool {
	return flows.ValidateEmail(t.APIUser) == nil && envPattern.MatchString(t.Application)
}

func unmailto(s string) string {
	if m := mailtoPattern.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return s
}

func hasWord(s, word string) bool {
	for _, w := range strings.Fields(s) {
		if w == word {
			return true
		}
	}
	return false
}

func containsToken(ts []AlertToken, t AlertToken) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// AlertReport is `bot parse-alert`'s answer: what the bot reads in a
// message, for operators asking why it did or did not react.
type AlertReport struct {
	Alert       *string      `json:"alert"`
	Status      *string      `json:"status"`
	Environment *string      `json:"environment"`
	Count       *int         `json:"count"`
	Tokens      []AlertToken `json:"tokens"`
}

// Report describes the alert as `bot parse-alert` prints it.
func (a Alert) Report() AlertReport {
	r := AlertReport{Tokens: []AlertToken{}}
	if a.Name == "" {
		return r
	}
	r.Alert, r.Status = &a.Name, &a.Status
	if a.Environment != "" {
		r.Environment = &a.Environment
	}
	if a.Count > 0 {
		r.Count = &a.Count
	}
	r.Tokens = append(r.Tokens, a.Tokens...)
	return r
}
