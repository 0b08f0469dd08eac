package slacktest

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// surface is where blocks are shown; the limits differ.
type surface struct {
	name      string
	maxBlocks int
}

var (
	surfaceMessage = surface{"message", 50}
	surfaceModal   = surface{"modal", 100}
)

// blockCheck collects Block Kit problems the way Slack reports them in
// response_metadata.messages: "[ERROR] what [json-pointer:/where]".
type blockCheck struct {
	problems  []string
	actionIDs map[string]string // action_id -> where first seen
	blockIDs  map[string]string
}

func (c *blockCheck) addf(ptr, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("[ERROR] %s [json-pointer:%s]", fmt.Sprintf(format, args...), ptr))
}

// validateBlocks checks a message's blocks argument. malformed is true
// when it is not a JSON array of objects at all (invalid_blocks_format).
func validateBlocks(raw json.RawMessage, sf surface) (problems []string, malformed bool) {
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return []string{err.Error()}, true
	}
	c := &blockCheck{actionIDs: map[string]string{}, blockIDs: map[string]string{}}
	c.blocks(blocks, sf, "/blocks")
	return c.problems, false
}

func (c *blockCheck) blocks(blocks []any, sf surface, ptr string) {
	if len(blocks) > sf.maxBlocks {
		c.addf(ptr, "no more than %d items allowed in a %s", sf.maxBlocks, sf.name)
	}
	for i, b := range blocks {
		c.block(b, fmt.Sprintf("%s/%d", ptr, i))
	}
}

var blockKeys = map[string][]string{
	"section":   {"text", "fields", "accessory", "expand"},
	"actions":   {"elements"},
	"context":   {"elements"},
	"header":    {"text", "level"},
	"divider":   {},
	"image":     {"image_url", "alt_text", "title", "slack_file"},
	"input":     {"label", "element", "hint", "optional", "dispatch_action"},
	"rich_text": {"elements"},
	"markdown":  {"text"},
}

func (c *blockCheck) block(v any, ptr string) {
	b, typ, ok := c.object(v, ptr, blockKeys, "block_id")
	if !ok {
		return
	}
	if id, ok := b["block_id"].(string); ok {
		c.length(id, 255, ptr+"/block_id")
		if first, dup := c.blockIDs[id]; dup {
			c.addf(ptr+"/block_id", "block_id %q is already used at %s", id, first)
		}
		c.blockIDs[id] = ptr
	}
	switch typ {
	case "section":
		_, hasText := b["text"]
		fields, hasFields := b["fields"].([]any)
		if !hasText && !hasFields {
			c.addf(ptr, "must provide text or fields")
		}
		if hasText {
			c.text(b["text"], ptr+"/text", false, 3000)
		}
		if len(fields) > 10 {
			c.addf(ptr+"/fields", "no more than 10 items allowed")
		}
		for i, f := range fields {
			c.text(f, fmt.Sprintf("%s/fields/%d", ptr, i), false, 2000)
		}
		if acc, ok := b["accessory"]; ok {
			c.element(acc, ptr+"/accessory")
		}
	case "actions":
		els, _ := b["elements"].([]any)
		if len(els) == 0 {
			c.addf(ptr+"/elements", "must provide at least 1 item")
		}
		if len(els) > 25 {
			c.addf(ptr+"/elements", "no more than 25 items allowed")
		}
		for i, e := range els {
			c.element(e, fmt.Sprintf("%s/elements/%d", ptr, i))
		}
	case "context":
		els, _ := b["elements"].([]any)
		if len(els) == 0 {
			c.addf(ptr+"/elements", "must provide at least 1 item")
		}
		if len(els) > 10 {
			c.addf(ptr+"/elements", "no more than 10 items allowed")
		}
		for i, e := range els {
			p := fmt.Sprintf("%s/elements/%d", ptr, i)
			if m, ok := e.(map[string]any); ok && m["type"] == "image" {
				c.element(e, p)
				continue
			}
			c.text(e, p, false, 2000)
		}
	case "header":
		c.text(b["text"], ptr+"/text", true, 150)
	case "image":
		c.length(str(b["alt_text"]), 2000, ptr+"/alt_text")
		c.length(str(b["image_url"]), 3000, ptr+"/image_url")
		if t, ok := b["title"]; ok {
			c.text(t, ptr+"/title", true, 2000)
		}
	case "input":
		c.text(b["label"], ptr+"/label", true, 2000)
		if h, ok := b["hint"]; ok {
			c.text(h, ptr+"/hint", true, 2000)
		}
		c.element(b["element"], ptr+"/element")
	case "markdown":
		c.length(str(b["text"]), 12000, ptr+"/text")
	}
}

var elementKeys = map[string][]string{
	"button": {"text", "url", "value", "confirm", "style", "accessibility_label"},
	"static_select": {"placeholder", "options", "option_groups", "initial_option", "confirm",
		"focus_on_load"},
	"multi_static_select": {"placeholder", "options", "option_groups", "initial_options", "confirm",
		"max_selected_items", "focus_on_load"},
	"overflow":         {"options", "confirm"},
	"users_select":     {"placeholder", "initial_user", "confirm", "focus_on_load"},
	"plain_text_input": {"placeholder", "initial_value", "multiline", "min_length", "max_length", "dispatch_action_config", "focus_on_load"},
	"email_text_input": {"placeholder", "initial_value", "dispatch_action_config", "focus_on_load"},
	"radio_buttons":    {"options", "initial_option", "confirm", "focus_on_load"},
	"checkboxes":       {"options", "initial_options", "confirm", "focus_on_load"},
	"datepicker":       {"placeholder", "initial_date", "confirm", "focus_on_load"},
	"image":            {"image_url", "alt_text", "slack_file"},
	"conversations_select": {"placeholder", "initial_conversation", "default_to_current_conversation", "confirm",
		"response_url_enabled", "filter", "focus_on_load"},
}

func (c *blockCheck) element(v any, ptr string) {
	e, typ, ok := c.object(v, ptr, elementKeys, "action_id")
	if !ok {
		return
	}
	if typ == "image" {
		c.length(str(e["alt_text"]), 2000, ptr+"/alt_text")
		return
	}
	if id, ok := e["action_id"].(string); ok {
		c.length(id, 255, ptr+"/action_id")
		if first, dup := c.actionIDs[id]; dup {
			c.addf(ptr+"/action_id", "action_id %q is already used at %s", id, first)
		}
		c.actionIDs[id] = ptr
	}
	if p, ok := e["placeholder"]; ok {
		c.text(p, ptr+"/placeholder", true, 150)
	}
	if cf, ok := e["confirm"]; ok {
		c.confirm(cf, ptr+"/confirm")
	}
	switch typ {
	case "button":
		c.text(e["text"], ptr+"/text", true, 75)
		c.length(str(e["value"]), 2000, ptr+"/value")
		c.length(str(e["url"]), 3000, ptr+"/url")
		if st, ok := e["style"]; ok && st != "primary" && st != "danger" {
			c.addf(ptr+"/style", "must be primary or danger")
		}
	case "static_select", "multi_static_select", "radio_buttons", "checkboxes", "overflow":
		opts, _ := e["options"].([]any)
		max := 100
		if typ == "overflow" {
			max = 5
		}
		if len(opts) > max {
			c.addf(ptr+"/options", "no more than %d items allowed", max)
		}
		for i, o := range opts {
			c.option(o, fmt.Sprintf("%s/options/%d", ptr, i))
		}
	case "plain_text_input":
		if n, ok := e["max_length"].(float64); ok && n > 3000 {
			c.addf(ptr+"/max_length", "must be at most 3000")
		}
	}
}

func (c *blockCheck) option(v any, ptr string) {
	o, ok := v.(map[string]any)
	if !ok {
		c.addf(ptr, "must provide an object")
		return
	}
	c.text(o["text"], ptr+"/text", false, 75)
	c.length(str(o["value"]), 150, ptr+"/value")
	if d, ok := o["description"]; ok {
		c.text(d, ptr+"/description", false, 75)
	}
}

func (c *blockCheck) confirm(v any, ptr string) {
	o, ok := v.(map[string]any)
	if !ok {
		c.addf(ptr, "must provide an object")
		return
	}
	c.text(o["title"], ptr+"/title", true, 100)
	c.text(o["text"], ptr+"/text", false, 300)
	c.text(o["confirm"], ptr+"/confirm", true, 30)
	if d, ok := o["deny"]; ok {
		c.text(d, ptr+"/deny", true, 30)
	}
}

// text checks a text object.
func (c *blockCheck) text(v any, ptr string, plainOnly bool, max int) {
	o, ok := v.(map[string]any)
	if !ok {
		c.addf(ptr, "must provide an object")
		return
	}
	typ := str(o["type"])
	switch {
	case typ == "plain_text":
	case typ == "mrkdwn" && !plainOnly:
	case plainOnly:
		c.addf(ptr+"/type", "must be plain_text")
	default:
		c.addf(ptr+"/type", "must be plain_text or mrkdwn")
	}
	for k := range o {
		if k != "type" && k != "text" && k != "emoji" && k != "verbatim" {
			c.addf(ptr+"/"+k, "invalid additional property: %s", k)
		}
	}
	t, ok := o["text"].(string)
	if !ok || t == "" {
		c.addf(ptr+"/text", "must be more than 0 characters")
		return
	}
	c.length(t, max, ptr+"/text")
	c.checkDates(t, typ, ptr+"/text")
}

func (c *blockCheck) length(s string, max int, ptr string) {
	if n := utf8.RuneCountInString(s); n > max {
		c.addf(ptr, "must be less than %d characters (has %d)", max+1, n)
	}
}

// object checks that v is an object of a known type whose keys are the
// type's own, plus "type" and idKey.
func (c *blockCheck) object(v any, ptr string, keys map[string][]string, idKey string) (map[string]any, string, bool) {
	o, ok := v.(map[string]any)
	if !ok {
		c.addf(ptr, "must provide an object")
		return nil, "", false
	}
	typ := str(o["type"])
	allowed, known := keys[typ]
	if !known {
		c.addf(ptr+"/type", "unsupported type: %q", typ)
		return nil, "", false
	}
	for k := range o {
		if k != "type" && k != idKey && !contains(allowed, k) {
			c.addf(ptr+"/"+k, "invalid additional property: %s", k)
		}
	}
	return o, typ, true
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
