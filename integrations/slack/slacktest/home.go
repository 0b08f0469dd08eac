package slacktest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The App Home tab, as Slack serves it (docs.slack.dev: views.publish,
// the app_home_opened event): one published view per user, of type home,
// at most 100 blocks and 250 kB, replaced whole by each publish.

var (
	surfaceHome  = surface{"home", 100}
	homeViewKeys = []string{"type", "blocks", "private_metadata", "callback_id", "external_id"}
)

// maxViewBytes is views.publish's limit (view_too_large).
const maxViewBytes = 250_000

func (s *Server) viewsPublish(r *request) (map[string]any, *apiError) {
	if s.HomeTabDisabled {
		return nil, errCode("not_enabled")
	}
	user := r.args["user_id"]
	if _, ok := s.users[user]; !ok {
		return nil, errCode("invalid_arguments", "invalid `user_id`")
	}
	if len(r.args["view"]) > maxViewBytes {
		return nil, errCode("view_too_large")
	}
	var spec map[string]any
	if err := json.Unmarshal([]byte(r.args["view"]), &spec); err != nil {
		s.violation("views.publish: view is not a JSON object: %v", err)
		return nil, errCode("invalid_arguments")
	}
	for k := range spec {
		if !contains(homeViewKeys, k) {
			s.violation("views.publish: a home view has no property %q", k)
			return nil, errCode("invalid_arguments", fmt.Sprintf("[ERROR] invalid additional property: %s [json-pointer:/view/%s]", k, k))
		}
	}
	if spec["type"] != "home" {
		s.violation("views.publish: view type %v is not home", spec["type"])
		return nil, errCode("invalid_arguments")
	}
	c := &blockCheck{actionIDs: map[string]string{}, blockIDs: map[string]string{}}
	blocks, _ := spec["blocks"].([]any)
	c.blocks(blocks, surfaceHome, "/view/blocks")
	c.length(str(spec["callback_id"]), 255, "/view/callback_id")
	c.length(str(spec["private_metadata"]), 3000, "/view/private_metadata")
	if len(c.problems) > 0 {
		s.violation("views.publish: view breaks Block Kit's limits: %s", strings.Join(c.problems, "; "))
		return nil, errCode("invalid_arguments", c.problems...)
	}
	if s.homes == nil {
		s.homes = map[string]*view{}
	}
	old := s.homes[user]
	if h := r.args["hash"]; h != "" && (old == nil || old.hash != h) {
		return nil, errCode("hash_conflict")
	}
	v := &view{id: s.newIDLocked("V"), user: user, spec: spec, hash: s.newIDLocked("h.")}
	if old != nil {
		v.id = old.id
	}
	s.homes[user] = v
	s.notifyLocked()
	out := s.viewJSONLocked(v)
	out["view"].(map[string]any)["root_view_id"] = v.id
	return out, nil
}

// Home is the Home tab published for user, as its blocks' JSON.
func (s *Server) Home(user string) (json.RawMessage, bool) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.homes[user]
	if !ok {
		return nil, false
	}
	raw, _ := json.Marshal(v.spec["blocks"])
	return raw, true
}

// OpenHome is user opening the app's Home tab: Slack sends
// app_home_opened, with the view published for the user if there is one.
func (s *Server) OpenHome(user string) *Delivery {
	s.init()
	s.mu.Lock()
	if _, ok := s.users[user]; !ok {
		s.mu.Unlock()
		s.violation("OpenHome: no user %s", user)
		return nil
	}
	ev := map[string]any{"type": "app_home_opened", "user": user, "channel": "D" + strings.TrimPrefix(user, "U"), "tab": "home", "event_ts": s.actionTSLocked()}
	if v, ok := s.homes[user]; ok {
		ev["view"] = s.viewJSONLocked(v)["view"]
	}
	s.mu.Unlock()
	return s.SendEvent(ev)
}

// HomeAction is a person clicking a button on their Home tab.
type HomeAction struct {
	User     string
	ActionID string
	// Value overrides the button's own value, to forge a click.
	Value string
}

// ClickHome delivers a block_actions envelope for a button on the Home tab
// published for the user, as Slack sends one from a view: its container
// is the view, with a fresh trigger_id, and no channel and no
// response_url (a view has none to answer through). A button that is not
// there fails the test.
func (s *Server) ClickHome(a HomeAction) *Delivery {
	s.init()
	s.mu.Lock()
	u, ok := s.users[a.User]
	v, published := s.homes[a.User]
	if !ok || !published {
		s.mu.Unlock()
		s.misuse("ClickHome: %s has no Home tab published", a.User)
		return nil
	}
	raw, _ := json.Marshal(v.spec["blocks"])
	btn, blockID, found := findButton(raw, a.ActionID)
	if !found {
		s.mu.Unlock()
		s.misuse("ClickHome: %s's Home tab has no button %q", a.User, a.ActionID)
		return nil
	}
	// A view has no channel or response_url to answer through.
	return s.sendClickLocked(u, btn, blockID, a.ActionID, a.Value, func(*envelope) map[string]any {
		return map[string]any{"container": map[string]any{"type": "view", "view_id": v.id}, "view": s.viewJSONLocked(v)["view"]}
	})
}
