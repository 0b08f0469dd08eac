package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
)

// maxMessage bounds what parse-alert reads: a Slack message is at most
// 40,000 characters of text plus its attachments.
const maxMessage = 4 << 20

// inputMessage is what parse-alert accepts: an Events API message event,
// an event_callback around one, or a webhook or chat.postMessage payload.
// All of them carry text and attachments at the top level of the message.
type inputMessage struct {
	Subtype     string                `json:"subtype"`
	Text        string                `json:"text"`
	Attachments []slackapi.Attachment `json:"attachments"`
	BotID       string                `json:"bot_id"`
	AppID       string                `json:"app_id"`
	BotProfile  *slackapi.BotProfile  `json:"bot_profile"`
	Channel     string                `json:"channel"`
	Event       *inputMessage         `json:"event"`
}

// parseAlertReport is the parser's reading plus who sent the message and
// whether the bot takes alerts from them.
type parseAlertReport struct {
	commands.AlertReport
	Sender string `json:"sender"`
	// SenderAllowed is null when no configuration file names the senders.
	SenderAllowed *bool `json:"sender_allowed"`
	// Why says, when the bot would not answer the message with its
	// tokens, each reason; it is empty when it would.
	Why []string `json:"why"`
}

// parseAlert reads one message as JSON from in and prints what the bot
// reads in it, with the parser the bot uses, and why it would not answer
// it. cfg is the configuration file's, nil without one.
func parseAlert(in io.Reader, out io.Writer, cfg *Config) error {
	raw, err := io.ReadAll(io.LimitReader(in, maxMessage+1))
	if err != nil {
		return fmt.Errorf("parse-alert: read stdin: %w", err)
	}
	if len(raw) > maxMessage {
		return fmt.Errorf("parse-alert: the message is over %d bytes", maxMessage)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return errors.New("parse-alert: stdin is empty: pipe one Slack message as JSON into it")
	}
	var m inputMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("parse-alert: stdin is not a Slack message as JSON: %w", err)
	}
	if m.Event != nil {
		m = *m.Event
	}
	msg := commands.AlertMessage{Subtype: m.Subtype, Text: m.Text, Attachments: m.Attachments, BotID: m.BotID, AppID: m.AppID}
	if m.BotProfile != nil && msg.AppID == "" {
		msg.AppID = m.BotProfile.AppID
	}
	r := parseAlertReport{AlertReport: commands.ParseAlert(msg).Report(), Sender: msg.Sender(), Why: []string{}}
	if why := commands.WhyNoTokens(msg); why != "" {
		r.Why = append(r.Why, why)
	}
	if cfg == nil {
		r.Why = append(r.Why, "sender and channel not checked: give the configuration (-config or CONFIG_FILE) to check them")
	} else {
		allowed := msg.SentBy(cfg.AlertSenders)
		r.SenderAllowed = &allowed
		if !allowed {
			r.Why = append(r.Why, fmt.Sprintf("wrong sender: %s is not among alertSenders (%s)", r.Sender, listOrNone(cfg.AlertSenders)))
		}
		switch {
		case m.Channel == "":
			r.Why = append(r.Why, "channel not checked: the message has no \"channel\"")
		case !slices.Contains(cfg.AlertChannels, m.Channel):
			r.Why = append(r.Why, fmt.Sprintf("not in an alert channel: %s is not among alertChannels (%s)", excerpt(m.Channel), listOrNone(cfg.AlertChannels)))
		}
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("parse-alert: write: %w", err)
	}
	return nil
}

// alertConfig reads the configuration file, if there is one: parse-alert
// needs no Slack tokens or Redis, so the environment's settings are not
// required. It is nil without a file.
func alertConfig(getenv func(string) string, configFlag string) (*Config, error) {
	cfg := DefaultConfig()
	var p problems
	cfg.fromFile(&p, getenv, configFlag)
	if err := p.err(); err != nil {
		return nil, err
	}
	if cfg.File == "" {
		return nil, nil
	}
	return &cfg, nil
}

func listOrNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}
