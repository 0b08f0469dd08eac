package bot

import (
	"fmt"
	"reflect"

	"github.com/alphagov/signon-token-bot/flows"
)

// defaultAutopilot is an environment's autopilot when the configuration
// names none: integration rotates with no click, production stops at
// every confirmation, anything else (staging) only reports.
func defaultAutopilot(name string) flows.Autopilot {
	switch name {
	case flows.Integration:
		return flows.AutopilotFull
	case flows.Production:
		return flows.AutopilotToGates
	}
	return flows.AutopilotOff
}

// autopilot is the environment's policy as the engine takes it, with the
// configuration that set it. An environment the bot does not rotate in
// is off whatever its default.
func (e Environment) autopilot(name, file string) (flows.Autopilot, bool, string) {
	mode, err := flows.ParseAutopilot(string(e.Autopilot))
	source := fmt.Sprintf("environments.%s.autopilot: %s", name, mode)
	if e.Autopilot == "" || err != nil {
		mode = defaultAutopilot(name)
		source = fmt.Sprintf("environments.%s.autopilot unset, so %s's default %s", name, name, mode)
		if !e.Rotate {
			mode = flows.AutopilotOff
		}
	}
	acked := e.AutopilotAcknowledgement == flows.AutopilotAcknowledgement
	if acked && mode == flows.AutopilotFull {
		source += fmt.Sprintf(", with environments.%s.autopilotAcknowledgement", name)
	}
	if file != "" {
		source += " in " + file
	}
	return mode, acked, source
}

// validateAutopilot refuses a policy the bot cannot follow, and full in
// production without the acknowledgement's exact text.
func (e Environment) validateAutopilot(p *problems, name string) {
	key := "environments." + name
	mode, err := flows.ParseAutopilot(string(e.Autopilot))
	if err != nil {
		p.errorf("%s.autopilot: %s is not off, to-gates or full", key, excerpt(string(e.Autopilot)))
		return
	}
	if e.Autopilot == "" {
		mode = defaultAutopilot(name)
	} else if mode.Starts() && !e.Rotate {
		p.errorf("%s.autopilot: %s starts rotations, but the bot does not rotate in %s (rotate: false)", key, mode, name)
	}
	if e.AutopilotAcknowledgement != "" && e.AutopilotAcknowledgement != flows.AutopilotAcknowledgement {
		p.errorf("%s.autopilotAcknowledgement: must be exactly %q, not %s", key, flows.AutopilotAcknowledgement, excerpt(e.AutopilotAcknowledgement))
		return
	}
	if mode == flows.AutopilotFull && name == flows.Production && e.AutopilotAcknowledgement == "" {
		p.errorf("%s.autopilot: full revokes in production with no second person; it needs %s.autopilotAcknowledgement: %q", key, key, flows.AutopilotAcknowledgement)
	}
}

// AutopilotSetting is an environment's autopilot as the file writes it.
// The file's YAML 1.1 reads a bare off as false, so false is off; a bare
// on, yes or true is refused, since none of them names a mode.
type AutopilotSetting string

var autopilotType = reflect.TypeFor[AutopilotSetting]()

func decodeAutopilot(p *problems, path string, node any, v reflect.Value) {
	switch n := node.(type) {
	case string:
		v.SetString(n)
	case bool:
		if n {
			p.errorf("%s: %s is not off, to-gates or full", path, show(node))
			return
		}
		v.SetString(string(flows.AutopilotOff))
	default:
		p.errorf("%s: want off, to-gates or full, not %s", path, show(node))
	}
}
