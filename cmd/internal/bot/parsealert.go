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
	Event       *inputMessage         `json:"event"`
}

// parseAlert reads one message as JSON from in and prints what the bot
// reads in it, with the parser the bot uses.
func parseAlert(in io.Reader, out io.Writer) error {
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
	alert := commands.ParseAlert(commands.AlertMessage{Subtype: m.Subtype, Text: m.Text, Attachments: m.Attachments})
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(alert.Report()); err != nil {
		return fmt.Errorf("parse-alert: write: %w", err)
	}
	return nil
}
