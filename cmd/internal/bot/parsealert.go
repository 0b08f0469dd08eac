package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
	Event       *inputMessage         `json:"event"`
}

// parseAlertReport is the parser's reading plus who sent the message and
// whether the bot takes alerts from them.
type parseAlertReport struct {
	commands.AlertReport
	Sender string `json:"sender"`
	// SenderAllowed is null when no configuration file names the senders.
	SenderAllowed *bool `json:"sender_allowed"`
}

// parseAlert reads one message as JSON from in and prints what the bot
// reads in it, with the parser the bot uses. senders, when known, are the
// configuration's alertSenders.
func parseAlert(in io.Reader, out io.Writer, senders []string, known bool) error {
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
	r := parseAlertReport{AlertReport: commands.ParseAlert(msg).Report(), Sender: msg.Sender()}
	if known {
		allowed := msg.SentBy(senders)
		r.SenderAllowed = &allowed
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("parse-alert: write: %w", err)
	}
	return nil
}

// alertSenders reads alertSenders from the configuration file, if there
// is one: parse-alert needs no Slack tokens or Redis, so the environment's
// settings are not required. known is false without a file.
func alertSenders(getenv func(string) string, configFlag string) (senders []string, known bool, err error) {
	cfg := DefaultConfig()
	var p problems
	cfg.fromFile(&p, getenv, configFlag)
	if err := p.err(); err != nil {
		return nil, false, err
	}
	return cfg.AlertSenders, cfg.File != "", nil
}
