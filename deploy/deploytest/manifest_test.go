package deploytest

import (
	"fmt"
	"go/ast"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"
	"sigs.k8s.io/yaml"
)

// webMethod is a Web API method the bot may send: the slack-go functions
// that send it, and the bot scopes Slack asks for (none for auth.test,
// chat.getPermalink and views.*, views.publish included).
type webMethod struct {
	funcs  []string
	scopes []string
}

// webMethods are the methods whose scopes are known. A call of a method
// not listed fails TestManifestCoversTheCode: look its scopes up in
// Slack's method reference, add it here and add the scopes to manifest.yml.
var webMethods = map[string]webMethod{
	"auth.test":             {funcs: []string{"AuthTestContext"}},
	"chat.postMessage":      {funcs: []string{"PostMessageContext"}, scopes: []string{"chat:write"}},
	"chat.postEphemeral":    {funcs: []string{"PostEphemeralContext"}, scopes: []string{"chat:write"}},
	"chat.update":           {funcs: []string{"UpdateMessageContext"}, scopes: []string{"chat:write"}},
	"chat.delete":           {funcs: []string{"DeleteMessageContext"}, scopes: []string{"chat:write"}},
	"chat.getPermalink":     {funcs: []string{"GetPermalinkContext"}},
	"views.open":            {funcs: []string{"OpenViewContext"}},
	"views.push":            {funcs: []string{"PushViewContext"}},
	"views.update":          {funcs: []string{"UpdateViewContext"}},
	"views.publish":         {funcs: []string{"PublishViewContext"}},
	"users.info":            {funcs: []string{"GetUserInfoContext"}, scopes: []string{"users:read"}},
	"usergroups.users.list": {funcs: []string{"GetUserGroupMembersContext"}, scopes: []string{"usergroups:read"}},
	// Not a method: a POST to an interaction's response_url, which slack-go
	// sends through PostMessageContext. It needs no scope.
	"response_url": {funcs: []string{"PostMessageContext"}},
}

// innerEvents maps the slackevents types a handler can receive to the
// Events API subscriptions that deliver them, with the scope each needs.
var innerEvents = map[string]map[string]string{
	"MessageEvent": {
		"message.channels": "channels:history", "message.groups": "groups:history",
		"message.im": "im:history", "message.mpim": "mpim:history", "message.app_home": "im:history",
	},
	"AppMentionEvent":    {"app_mention": "app_mentions:read"},
	"ReactionAddedEvent": {"reaction_added": "reactions:read"},
	"MemberJoinedChannelEvent": {
		"member_joined_channel": "channels:read",
	},
	"AppHomeOpenedEvent": {"app_home_opened": ""},
}

// envelopeTypes are slackevents types that wrap events rather than being
// one.
var envelopeTypes = []string{"EventsAPIEvent", "EventsAPICallbackEvent", "EventsAPIInnerEvent", "EventsAPIURLVerificationEvent"}

// clientScan is what the Slack client package sends.
type clientScan struct {
	// methods are the Web API methods sent, each with where.
	methods map[string][]string
	// socketMode is true when the package opens a Socket Mode connection
	// (apps.connections.open, with the app-level token).
	socketMode bool
	problems   []string
}

// scanClient reads the Slack client package: every call through
// slack-go's client must go through Client.do, whose second argument names
// the method; the closure's slack-go call must be one that sends it.
func scanClient(files []goFile) clientScan {
	s := clientScan{methods: map[string][]string{}}
	for _, f := range files {
		// Positions of every x.api.F(...) call, cleared as do closures
		// account for them.
		unaccounted := map[token.Pos]string{}
		ast.Inspect(f.file, func(n ast.Node) bool {
			if fn, ok := apiCall(n); ok {
				unaccounted[n.Pos()] = fn
			}
			return true
		})
		ast.Inspect(f.file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "do" || len(call.Args) < 4 {
				return true
			}
			lit, ok := call.Args[1].(*ast.BasicLit)
			closure, isFunc := call.Args[len(call.Args)-1].(*ast.FuncLit)
			if !ok || lit.Kind != token.STRING || !isFunc {
				s.problems = append(s.problems, fmt.Sprintf("%s: Client.do is called without a literal method name and a closure; the manifest check cannot read it", f.where(call.Pos())))
				return true
			}
			method, _ := strconv.Unquote(lit.Value)
			s.methods[method] = append(s.methods[method], f.where(call.Pos()))
			known, listed := webMethods[method]
			ast.Inspect(closure, func(n ast.Node) bool {
				fn, ok := apiCall(n)
				if !ok {
					return true
				}
				delete(unaccounted, n.Pos())
				if listed && !slices.Contains(known.funcs, fn) {
					s.problems = append(s.problems, fmt.Sprintf("%s: the call counted as %s calls slack-go's %s, which does not send it", f.where(n.Pos()), method, fn))
				}
				return true
			})
			return true
		})
		for pos, fn := range unaccounted {
			s.problems = append(s.problems, fmt.Sprintf("%s: slack-go's %s is called outside Client.do, so no one knows which scope it needs", f.where(pos), fn))
		}
		if uses := f.qualified("github.com/slack-go/slack/socketmode"); len(uses["New"]) > 0 {
			s.socketMode = true
		}
	}
	return s
}

// apiCall reports whether n calls a method of a slack-go client held in a
// field named api, and which.
func apiCall(n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	inner, ok := sel.X.(*ast.SelectorExpr)
	if !ok || inner.Sel.Name != "api" {
		return "", false
	}
	return sel.Sel.Name, true
}

// handledEvents lists the slackevents types the bot's code names, with
// where, and the ones it names that are neither events nor envelopes
// known to innerEvents.
func handledEvents(files []goFile) (handled map[string][]string, unknown []string) {
	handled = map[string][]string{}
	for _, f := range files {
		for name, where := range f.qualified("github.com/slack-go/slack/slackevents") {
			switch {
			case innerEvents[name] != nil:
				handled[name] = append(handled[name], where...)
			case slices.Contains(envelopeTypes, name):
			case strings.HasSuffix(name, "Event"):
				unknown = append(unknown, fmt.Sprintf("%s (%s)", name, where[0]))
			}
		}
	}
	slices.Sort(unknown)
	return handled, unknown
}

// slackOutsideClient lists calls, outside the Slack client package, of
// slack-go functions that reach Slack: a new client, a webhook, OAuth, or
// a Socket Mode connection. Everything else slack-go offers (Block Kit
// builders, types) is fine anywhere.
func slackOutsideClient(files []goFile) []string {
	var out []string
	clientDir := filepath.Join(repoRoot, "integrations", "slack")
	for _, f := range files {
		if filepath.Dir(f.path) == clientDir {
			continue
		}
		for name, where := range f.qualified("github.com/slack-go/slack") {
			if name == "New" || strings.Contains(name, "Webhook") || strings.Contains(name, "OAuth") || strings.Contains(name, "OpenID") {
				out = append(out, fmt.Sprintf("slack.%s at %s", name, strings.Join(where, ", ")))
			}
		}
		if where := f.qualified("github.com/slack-go/slack/socketmode")["New"]; len(where) > 0 {
			out = append(out, "socketmode.New at "+strings.Join(where, ", "))
		}
	}
	slices.Sort(out)
	return out
}

func readManifest(t *testing.T) slackapi.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// Strict: a misspelt key is an error here, as Slack would report it.
	var m slackapi.Manifest
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatalf("manifest.yml: %v", err)
	}
	return m
}

// The scopes manifest.yml grants are exactly those the code needs: each
// Web API method it sends, each event it subscribes to, the slash command
// and the email it reads.
func TestManifestCoversTheCode(t *testing.T) {
	m := readManifest(t)
	client := scanClient(parseDir(t, filepath.Join(repoRoot, "integrations", "slack")))
	for _, p := range client.problems {
		t.Error(p)
	}
	if len(client.methods) == 0 {
		t.Fatal("found no Web API calls in integrations/slack: the scan is broken")
	}

	// need maps a scope to why it is needed.
	need := map[string][]string{}
	for _, method := range sortedKeys(client.methods) {
		known, ok := webMethods[method]
		if !ok {
			t.Errorf("integrations/slack sends %s (%s), whose scopes this test does not know: add it to webMethods from Slack's method reference, and its scopes to manifest.yml",
				method, strings.Join(client.methods[method], ", "))
			continue
		}
		for _, s := range known.scopes {
			need[s] = append(need[s], method)
		}
	}

	sources := botSources(t)
	for _, f := range sources {
		// users.info returns profile.email only with users:read.email.
		ast.Inspect(f.file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Email" {
				if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "Profile" {
					need["users:read.email"] = append(need["users:read.email"], "profile.email at "+f.where(n.Pos()))
				}
			}
			return true
		})
	}

	handled, unknown := handledEvents(sources)
	for _, u := range unknown {
		t.Errorf("the code handles slackevents.%s, which this test does not know: add it to innerEvents with the subscriptions that deliver it", u)
	}
	subscribed := m.Settings.EventSubscriptions
	if subscribed == nil {
		t.Fatal("manifest.yml subscribes to no events")
	}
	for _, ev := range subscribed.BotEvents {
		found := false
		for _, name := range sortedKeys(handled) {
			if scope, ok := innerEvents[name][ev]; ok {
				found = true
				if scope != "" {
					need[scope] = append(need[scope], "event "+ev)
				}
			}
		}
		if !found {
			t.Errorf("manifest.yml subscribes to %s, which no handler receives (handled: %v)", ev, sortedKeys(handled))
		}
	}
	for _, name := range sortedKeys(handled) {
		if !slices.ContainsFunc(subscribed.BotEvents, func(ev string) bool { _, ok := innerEvents[name][ev]; return ok }) {
			t.Errorf("the code handles slackevents.%s (%s) but manifest.yml subscribes to nothing that delivers it", name, handled[name][0])
		}
	}
	if len(subscribed.UserEvents) > 0 {
		t.Errorf("manifest.yml subscribes to user events %v; the bot has no user token", subscribed.UserEvents)
	}
	if len(m.Features.SlashCommands) > 0 {
		need["commands"] = append(need["commands"], "slash commands")
	}

	granted := m.OAuthConfig.Scopes.Bot
	for _, s := range sortedKeys(need) {
		if !slices.Contains(granted, s) {
			t.Errorf("manifest.yml does not grant %s, which %s needs", s, strings.Join(slices.Compact(need[s]), ", "))
		}
	}
	for _, s := range granted {
		if _, ok := need[s]; !ok {
			t.Errorf("manifest.yml grants %s, which nothing in the code needs: remove it", s)
		}
	}
	if n := len(granted); n != len(slices.Compact(slices.Sorted(slices.Values(granted)))) {
		t.Errorf("manifest.yml grants a scope twice: %v", granted)
	}
	if sc := m.OAuthConfig.Scopes; len(sc.User)+len(sc.BotOptional)+len(sc.UserOptional) > 0 {
		t.Errorf("manifest.yml asks for user or optional scopes %+v; the bot uses its bot token only", sc)
	}

	for _, s := range slackOutsideClient(sources) {
		t.Errorf("%s: only integrations/slack may talk to Slack, so that this test sees every call", s)
	}
	if client.socketMode != m.Settings.SocketModeEnabled {
		t.Errorf("integrations/slack opens Socket Mode: %v; manifest.yml socket_mode_enabled: %v", client.socketMode, m.Settings.SocketModeEnabled)
	}
}

// The rest of the manifest says what the design needs: Socket Mode (no
// public endpoint), buttons, the one slash command with a hint that names
// every sub-command, and messages in public and private channels (alert
// channels may be either).
func TestManifestSettings(t *testing.T) {
	m := readManifest(t)
	s := m.Settings
	if !s.SocketModeEnabled {
		t.Error("socket_mode_enabled must be true: the bot has no public HTTP endpoint")
	}
	if s.Interactivity == nil || !s.Interactivity.IsEnabled {
		t.Error("interactivity.is_enabled must be true: the bot's buttons and modals need it")
	}
	if s.Interactivity != nil && s.Interactivity.RequestUrl != "" || s.EventSubscriptions != nil && s.EventSubscriptions.RequestUrl != "" {
		t.Error("a request_url is set: under Socket Mode Slack sends everything over the WebSocket")
	}
	if s.EventSubscriptions != nil {
		for _, ev := range []string{"message.channels", "message.groups"} {
			if !slices.Contains(s.EventSubscriptions.BotEvents, ev) {
				t.Errorf("bot_events lacks %s: alerts in that kind of channel would go unseen", ev)
			}
		}
	}

	commandsDir := filepath.Join(repoRoot, "commands")
	name, usage := stringConst(t, commandsDir, "CommandName"), stringConst(t, commandsDir, "Usage")
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != name {
		t.Fatalf("slash_commands = %+v, want just %s", m.Features.SlashCommands, name)
	}
	cmd := m.Features.SlashCommands[0]
	if cmd.ShouldEscape {
		t.Error("should_escape must be false: escaping turns the email argument into a mailto link")
	}
	if cmd.Url != "" {
		t.Error("the slash command has a url: under Socket Mode it must not")
	}
	// Every sub-command /rotate-token's help names is in the hint.
	subs := regexp.MustCompile("`/rotate-token ([a-z]+)[` ]").FindAllStringSubmatch(usage, -1)
	if len(subs) == 0 {
		t.Fatal("commands.Usage names no sub-commands: the check is broken")
	}
	for _, sub := range subs {
		if !regexp.MustCompile(`(^|[| ])` + sub[1] + `( |$)`).MatchString(cmd.UsageHint) {
			t.Errorf("usage_hint %q does not mention %q, which /rotate-token help offers", cmd.UsageHint, sub[1])
		}
	}

	// Slack's limits on the app's texts.
	for _, l := range []struct {
		field string
		v     string
		min   int
		max   int
	}{
		{"display_information.name", m.Display.Name, 1, 35},
		{"display_information.description", m.Display.Description, 1, 140},
		{"display_information.long_description", m.Display.LongDescription, 175, 4000},
		{"features.bot_user.display_name", m.Features.BotUser.DisplayName, 1, 80},
		{"slash_commands[0].description", cmd.Description, 1, 2000},
		{"slash_commands[0].usage_hint", cmd.UsageHint, 1, 1000},
	} {
		if n := len([]rune(l.v)); n < l.min || n > l.max {
			t.Errorf("%s is %d characters; Slack takes %d to %d", l.field, n, l.min, l.max)
		}
	}
	if !regexp.MustCompile(`^#[0-9a-f]{6}$`).MatchString(m.Display.BackgroundColor) {
		t.Errorf("background_color %q is not #rrggbb", m.Display.BackgroundColor)
	}
}

// The scan sees what a change to the client could add: a new method, a
// call that bypasses Client.do, a call counted under the wrong method,
// and an event type nobody has mapped.
func TestManifestScanCatchesNewCalls(t *testing.T) {
	client := scanClient([]goFile{parseSource(t, "integrations/slack/new.go", `package slack
func (c *Client) React(ctx context.Context) error {
	return c.do(ctx, "reactions.add", "", notTwice, func(ctx context.Context) error {
		return c.api.AddReactionContext(ctx, "thumbsup", slackapi.ItemRef{})
	})
}
func (c *Client) History(ctx context.Context) {
	c.api.GetConversationHistoryContext(ctx, nil)
}
func (c *Client) Mislabelled(ctx context.Context) error {
	return c.do(ctx, "auth.test", "", idempotent, func(ctx context.Context) error {
		_, _, err := c.api.DeleteMessageContext(ctx, "C1", "1.2")
		return err
	})
}
`)})
	if _, ok := client.methods["reactions.add"]; !ok {
		t.Errorf("methods = %v, want reactions.add among them", sortedKeys(client.methods))
	}
	if _, known := webMethods["reactions.add"]; known {
		t.Fatal("reactions.add is in webMethods; pick a method the bot does not use for this test")
	}
	want := []string{
		"GetConversationHistoryContext is called outside Client.do",
		"the call counted as auth.test calls slack-go's DeleteMessageContext",
	}
	for _, w := range want {
		if !slices.ContainsFunc(client.problems, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("problems = %q, want one saying %q", client.problems, w)
		}
	}

	handled, unknown := handledEvents([]goFile{parseSource(t, "commands/new.go", `package commands
import "github.com/slack-go/slack/slackevents"
func f(ev *slackevents.EventsAPIEvent) {
	switch ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent, *slackevents.ChannelCreatedEvent:
	}
}
`)})
	if _, ok := handled["AppMentionEvent"]; !ok || len(unknown) != 1 || !strings.HasPrefix(unknown[0], "ChannelCreatedEvent") {
		t.Errorf("handled = %v, unknown = %v; want AppMentionEvent handled and ChannelCreatedEvent unknown", sortedKeys(handled), unknown)
	}
}
