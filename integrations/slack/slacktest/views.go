package slacktest

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
)

// TriggerLifetime is how long a trigger_id can open a view, on the fake's
// clock, as in Slack.
const TriggerLifetime = 3 * time.Second

// trigger is a trigger_id handed out with an interaction.
type trigger struct {
	user   string
	issued time.Time
	used   bool
}

// view is a modal open for a user.
type view struct {
	id, user, hash, externalID, rootID, previousID string
	// spec is the view as the bot sent it.
	spec map[string]any
	// errors are the field errors of the last submission's ack.
	errors map[string]string
}

// newTriggerLocked hands out a trigger_id for user.
func (s *Server) newTriggerLocked(user string) string {
	id := s.newIDLocked("trigger.")
	s.triggers[id] = &trigger{user: user, issued: s.now()}
	return id
}

// useTriggerLocked spends a trigger_id, answering as Slack does for an
// unknown, reused or stale one.
func (s *Server) useTriggerLocked(id string) (*trigger, *apiError) {
	t, ok := s.triggers[id]
	switch {
	case !ok:
		return nil, errCode("invalid_trigger_id")
	case t.used:
		return nil, errCode("exchanged_trigger_id")
	case s.now().Sub(t.issued) > TriggerLifetime:
		return nil, errCode("expired_trigger_id")
	}
	t.used = true
	return t, nil
}

var viewKeys = []string{"type", "title", "blocks", "close", "submit", "private_metadata", "callback_id",
	"clear_on_close", "notify_on_close", "external_id", "submit_disabled"}

// parseViewLocked validates a modal as Slack does.
func (s *Server) parseViewLocked(r *request) (map[string]any, *apiError) {
	var spec map[string]any
	if err := json.Unmarshal([]byte(r.args["view"]), &spec); err != nil {
		s.violation("%s: view is not a JSON object: %v", r.method, err)
		return nil, errCode("invalid_arguments")
	}
	for k := range spec {
		if !contains(viewKeys, k) {
			s.violation("%s: view has unknown property %q", r.method, k)
			return nil, errCode("invalid_arguments", fmt.Sprintf("[ERROR] invalid additional property: %s [json-pointer:/view/%s]", k, k))
		}
	}
	if spec["type"] != "modal" {
		s.violation("%s: view type %v is not modal", r.method, spec["type"])
		return nil, errCode("invalid_arguments")
	}
	c := &blockCheck{actionIDs: map[string]string{}, blockIDs: map[string]string{}}
	c.text(spec["title"], "/view/title", true, 24)
	blocks, _ := spec["blocks"].([]any)
	c.blocks(blocks, surfaceModal, "/view/blocks")
	hasInput := false
	for _, b := range blocks {
		if m, ok := b.(map[string]any); ok && m["type"] == "input" {
			hasInput = true
		}
	}
	if sub, ok := spec["submit"]; ok {
		c.text(sub, "/view/submit", true, 24)
	} else if hasInput {
		c.addf("/view/submit", "submit is required when an input block is present")
	}
	if cl, ok := spec["close"]; ok {
		c.text(cl, "/view/close", true, 24)
	}
	c.length(str(spec["callback_id"]), 255, "/view/callback_id")
	c.length(str(spec["private_metadata"]), 3000, "/view/private_metadata")
	c.length(str(spec["external_id"]), 255, "/view/external_id")
	if len(c.problems) > 0 {
		s.violation("%s: view breaks Block Kit's limits: %s", r.method, strings.Join(c.problems, "; "))
		return nil, errCode("invalid_arguments", c.problems...)
	}
	if ext := str(spec["external_id"]); ext != "" {
		for _, v := range s.views {
			if v.externalID == ext {
				return nil, errCode("duplicate_external_id")
			}
		}
	}
	return spec, nil
}

func (s *Server) viewJSONLocked(v *view) map[string]any {
	out := map[string]any{}
	for k, x := range v.spec {
		out[k] = x
	}
	out["id"] = v.id
	out["team_id"] = s.TeamID
	out["hash"] = v.hash
	out["root_view_id"] = v.rootID
	out["previous_view_id"] = v.previousID
	out["app_id"] = s.AppID
	out["bot_id"] = s.BotID
	out["state"] = map[string]any{"values": map[string]any{}}
	return map[string]any{"view": out}
}

func (s *Server) newViewLocked(user string, spec map[string]any) *view {
	v := &view{id: s.newIDLocked("V"), user: user, spec: spec, externalID: str(spec["external_id"])}
	v.hash = s.newIDLocked("h.")
	s.views[v.id] = v
	s.notifyLocked()
	return v
}

func (s *Server) viewsOpen(r *request) (map[string]any, *apiError) {
	spec, aerr := s.parseViewLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	t, aerr := s.useTriggerLocked(r.args["trigger_id"])
	if aerr != nil {
		return nil, aerr
	}
	// A new modal replaces whatever the user had open.
	for id, v := range s.views {
		if v.user == t.user {
			delete(s.views, id)
		}
	}
	v := s.newViewLocked(t.user, spec)
	v.rootID = v.id
	return s.viewJSONLocked(v), nil
}

func (s *Server) viewsPush(r *request) (map[string]any, *apiError) {
	spec, aerr := s.parseViewLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	t, aerr := s.useTriggerLocked(r.args["trigger_id"])
	if aerr != nil {
		return nil, aerr
	}
	stack := s.stackLocked(t.user)
	if len(stack) == 0 {
		return nil, errCode("not_found")
	}
	if len(stack) >= 3 {
		return nil, errCode("push_limit_reached")
	}
	top := stack[len(stack)-1]
	v := s.newViewLocked(t.user, spec)
	v.rootID, v.previousID = top.rootID, top.id
	return s.viewJSONLocked(v), nil
}

func (s *Server) viewsUpdate(r *request) (map[string]any, *apiError) {
	id, ext := r.args["view_id"], r.args["external_id"]
	if (id == "") == (ext == "") {
		s.violation("views.update: give exactly one of view_id and external_id")
		return nil, errCode("invalid_arguments")
	}
	var v *view
	for _, x := range s.views {
		if (id != "" && x.id == id) || (ext != "" && x.externalID == ext) {
			v = x
		}
	}
	if v == nil {
		return nil, errCode("not_found")
	}
	if h := r.args["hash"]; h != "" && h != v.hash {
		return nil, errCode("hash_conflict")
	}
	spec, aerr := s.parseViewLocked(&request{method: r.method, args: map[string]string{"view": r.args["view"]}})
	if aerr != nil {
		return nil, aerr
	}
	v.spec = spec
	v.hash = s.newIDLocked("h.")
	s.notifyLocked()
	return s.viewJSONLocked(v), nil
}

// stackLocked is the user's open modals, root first.
func (s *Server) stackLocked(user string) []*view {
	var root *view
	for _, v := range s.views {
		if v.user == user && v.previousID == "" {
			root = v
		}
	}
	if root == nil {
		return nil
	}
	stack := []*view{root}
	for {
		var next *view
		for _, v := range s.views {
			if v.previousID == stack[len(stack)-1].id {
				next = v
			}
		}
		if next == nil {
			return stack
		}
		stack = append(stack, next)
	}
}

// View is a modal as the user sees it.
type View struct {
	ID              string
	User            string
	CallbackID      string
	PrivateMetadata string
	Title           string
	Hash            string
	// Spec is the view as the bot last sent it.
	Spec json.RawMessage
	// Errors are the field errors, by block_id, that the ack of its last
	// submission showed; the view stays open with them.
	Errors map[string]string
}

// OpenViews lists the modals user has open, the root first.
func (s *Server) OpenViews(user string) []View {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, v := range s.stackLocked(user) {
		spec, _ := json.Marshal(v.spec)
		title, _ := v.spec["title"].(map[string]any)
		out = append(out, View{
			ID: v.id, User: v.user, CallbackID: str(v.spec["callback_id"]), PrivateMetadata: str(v.spec["private_metadata"]),
			Title: str(title["text"]), Hash: v.hash, Spec: spec, Errors: maps.Clone(v.errors),
		})
	}
	return out
}

// checkErrorsLocked judges a submission ack's field errors as Slack does:
// each must name an input block of the view and say something.
func (s *Server) checkErrorsLocked(v *view, errs map[string]string) bool {
	if len(errs) == 0 {
		s.violation("socket: response_action errors with no errors for view %s", v.id)
		return false
	}
	inputs := map[string]bool{}
	blocks, _ := v.spec["blocks"].([]any)
	for _, b := range blocks {
		if m, ok := b.(map[string]any); ok && m["type"] == "input" {
			inputs[str(m["block_id"])] = true
		}
	}
	for id, msg := range errs {
		if !inputs[id] {
			s.violation("socket: response_action errors names %q, which is not an input block of view %s", id, v.id)
			return false
		}
		if strings.TrimSpace(msg) == "" {
			s.violation("socket: response_action errors gives block %q an empty message", id)
			return false
		}
	}
	return true
}
