package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// fuzzWorld is the real Router and Bot over strict in-memory stand-ins for
// the engine, Slack's Web API and the offer store: fast enough to fuzz.
// The stand-ins hold the bot to its side of the contract: the engine and
// the store fail the target when they are handed what the Slack layer
// should have refused (a malformed key, an id no button carries, a click
// on another run's gate).
//
// It knows one offer with one item and one run waiting at its sync gate,
// both in the alerts channel, so that genuine clicks reach the engine.
type fuzzWorld struct {
	t      *testing.T
	router *commands.Router
	engine *fuzzEngine
	slack  *fuzzSlack
	offers *fuzzOffers
	offer  *flows.Offer
	run    *flows.Run
}

// The fuzz world's fixed ids, in the shapes flows.NewID and the gate
// nonces have.
const (
	fuzzOfferID = "o-aaaaaaaaaaaaaaaa"
	fuzzItemID  = "i-bbbbbbbbbbbbbbbb"
	fuzzRunID   = "r-cccccccccccccccc"
	fuzzGateID  = "dddddddd"
	fuzzAlertTS = "1764144000.000100"
	fuzzOfferTS = "1764144000.000200"
	fuzzGateTS  = "1764144000.000300"
)

// fuzzKey is the one token Signon knows in the fuzz world.
var fuzzKey = flows.Key{Environment: flows.Production, APIUser: userEmail, Application: appSlug}

func newFuzzWorld(t *testing.T) *fuzzWorld {
	t.Helper()
	policy := flows.GOVUKPolicy()
	for _, name := range []string{flows.Integration, flows.Production} {
		e := policy.Environments[name]
		e.Starters = flows.Principals{Users: []string{alice, bob}}
		policy.Environments[name] = e
	}
	alert := flows.Thread{Channel: alerts, TS: fuzzAlertTS}
	w := &fuzzWorld{
		t: t,
		offer: &flows.Offer{Schema: flows.Schema, ID: fuzzOfferID, Version: 1, Alert: alert, Environment: flows.Production,
			Items:    []flows.OfferItem{{ID: fuzzItemID, Key: fuzzKey, Assessment: flows.Assessment{Key: fuzzKey, APIUserName: userName, ApplicationName: appName}}},
			Messages: []string{fuzzOfferTS}},
		run: &flows.Run{Schema: flows.Schema, ID: fuzzRunID, Version: 1, Key: fuzzKey, Mode: flows.ModeRotate,
			APIUserName: userName, ApplicationName: appName, Thread: alert, StartedBy: alice, Phase: flows.PhaseWaiting, Step: flows.StepSync,
			Gate:  &flows.Gate{ID: fuzzGateID, Kind: flows.GateSync, Actions: []flows.Action{flows.ActionApprove, flows.ActionCancel, flows.ActionRollback}},
			Posts: []flows.Post{{ID: "00-sync", Step: flows.StepSync, Title: "Run the token sync job in production?", Gate: fuzzGateID}}},
	}
	w.engine = &fuzzEngine{t: t, policy: policy, runs: map[string]*flows.Run{fuzzRunID: w.run}}
	w.slack = &fuzzSlack{}
	w.offers = &fuzzOffers{t: t, offers: map[string]*flows.Offer{fuzzOfferID: w.offer}}
	clock := &flowstest.Clock{}
	bot, err := commands.New(commands.Config{
		Engine: w.engine, Slack: w.slack, Offers: w.offers, Runs: unexpectedRuns{t}, Groups: &memGroups{},
		AlertChannels: []string{alerts}, DefaultEnvironment: flows.Production, Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.router = commands.NewRouter(commands.RouterConfig{Responder: w.slack, BotUserID: "U0BOT", BotID: "B0BOT"})
	bot.Register(w.router)
	return w
}

// slash routes /rotate-token text as typed by user in the ops channel.
func (w *fuzzWorld) slash(user, text, responseURL string) {
	w.router.HandleEnvelope(context.Background(), slack.Envelope{ID: "env-1", Command: &slackapi.SlashCommand{
		Command: commands.CommandName, Text: text, UserID: user, ChannelID: ops,
		ResponseURL: responseURL, TriggerID: "trigger-" + responseURL,
	}})
}

// click routes a block_actions payload for one button.
func (w *fuzzWorld) click(user, channel, messageTS, threadTS, actionID, value string) {
	ic := &slackapi.InteractionCallback{Type: slackapi.InteractionTypeBlockActions, TriggerID: "trigger-click", ResponseURL: fuzzClickURL}
	ic.User.ID = user
	ic.Channel.ID = channel
	ic.Container = slackapi.Container{Type: "message", ChannelID: channel, MessageTs: messageTS, ThreadTs: threadTS}
	ic.ActionCallback.BlockActions = []*slackapi.BlockAction{{ActionID: actionID, Value: value, BlockID: "b", ActionTs: "1764144001.000001"}}
	w.router.HandleEnvelope(context.Background(), slack.Envelope{ID: "env-2", Interaction: ic})
}

// submit routes a view_submission of the /rotate-token form.
// submit delivers a form as the runner does: the router may answer it in
// the ack, which is returned, and only otherwise handles it.
func (w *fuzzWorld) submit(user, metadata string, values map[string]map[string]slackapi.BlockAction) *slackapi.ViewSubmissionResponse {
	ic := &slackapi.InteractionCallback{Type: slackapi.InteractionTypeViewSubmission, TriggerID: "trigger-submit"}
	ic.User.ID = user
	ic.View = slackapi.View{ID: "V0FORM", Hash: "h.1", CallbackID: blocks.FormCallbackID, PrivateMetadata: metadata,
		State: &slackapi.ViewState{Values: values}}
	e := slack.Envelope{ID: "env-3", Interaction: ic}
	if payload, ok := w.router.AnswerInAck(e); ok {
		return payload.(*slackapi.ViewSubmissionResponse)
	}
	w.router.HandleEnvelope(context.Background(), e)
	return nil
}

const fuzzClickURL = "https://hooks.slack.test/actions/T0/1/click"

// echoSafe fails t if text could ping or link: the fuzz world makes no
// links and no mentions of its own, so any "<!", "<@" or "<http" in an
// answer was echoed from the input unescaped.
func echoSafe(t *testing.T, where, text string) {
	t.Helper()
	for _, bad := range []string{"<!", "<@", "<http", "<#", "<mailto"} {
		if strings.Contains(text, bad) {
			t.Fatalf("%s echoes %q unescaped:\n%s", where, bad, text)
		}
	}
}

// checkAnswers holds everything the bot said to the rules for hostile
// input: private, and escaped.
func (w *fuzzWorld) checkAnswers(t *testing.T) {
	t.Helper()
	for _, a := range w.slack.answersSnapshot() {
		if a.reply.InChannel {
			t.Fatalf("answered in the channel: %q", a.reply.Text)
		}
		if a.reply.ReplaceOriginal || a.reply.DeleteOriginal {
			// The offer a click came from, re-rendered: not an echo.
			continue
		}
		echoSafe(t, "the answer", a.reply.Text)
		b, _ := json.Marshal(a.reply.Blocks)
		echoSafe(t, "the answer's blocks", string(b))
	}
	for _, e := range w.slack.ephemeralsSnapshot() {
		echoSafe(t, "the ephemeral message", e)
	}
}

// fuzzEngine stands in for flows.Engine, answering as it does for the
// fuzz world's one token and run, and failing the target when the Slack
// layer hands it what it should have refused.
type fuzzEngine struct {
	t      *testing.T
	policy flows.Policy

	mu     sync.Mutex
	runs   map[string]*flows.Run
	starts []flows.StartRequest
	acts   []flows.ActRequest
}

var wellFormedRunID = regexp.MustCompile(`^r-[a-z0-9]{1,38}$`)

func (e *fuzzEngine) Start(_ context.Context, req flows.StartRequest) (*flows.Run, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.starts = append(e.starts, req)
	env, known := e.policy.Environments[req.Key.Environment]
	if err := req.Key.Validate(); err != nil || !known || !env.Rotate || req.Thread.Channel == "" {
		e.t.Fatalf("the engine was asked to start %+v in %+v, which the Slack layer should have refused", req.Key, req.Thread)
	}
	if req.Actor != alice && req.Actor != bob {
		return nil, &flows.DeniedError{User: req.Actor, What: "rotate tokens in " + req.Key.Environment, Reason: "you are not among the configured starters for " + req.Key.Environment}
	}
	if req.Key != fuzzKey {
		// As Signon answers through the real engine: the input, quoted.
		return nil, fmt.Errorf("ask Signon about %s: %w: Signon has no API user with email %s", req.Key, flows.ErrUnknownAPIUser, req.Key.APIUser)
	}
	run := &flows.Run{ID: flows.NewID("r"), Key: req.Key, Mode: req.Mode, Thread: req.Thread, Origin: req.Origin, StartedBy: req.Actor,
		APIUserName: userName, ApplicationName: appName, Phase: flows.PhaseRunning, Step: flows.StepInspect}
	e.runs[run.ID] = run
	return run, nil
}

func (e *fuzzEngine) Act(_ context.Context, req flows.ActRequest) (*flows.Run, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	run, err := e.check(req)
	if err != nil {
		return run, err
	}
	e.acts = append(e.acts, req)
	return run, nil
}

func (e *fuzzEngine) Check(_ context.Context, req flows.ActRequest) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.check(req)
	return err
}

// check is the engine's judgement of a click, under e.mu.
func (e *fuzzEngine) check(req flows.ActRequest) (*flows.Run, error) {
	if !wellFormedRunID.MatchString(req.RunID) {
		e.t.Fatalf("the engine was asked to act on run %q", req.RunID)
	}
	run, ok := e.runs[req.RunID]
	if !ok {
		return nil, fmt.Errorf("load run %s: %w", req.RunID, flows.ErrRunNotFound)
	}
	if req.GateID == "" && req.Action != flows.ActionCancel {
		e.t.Fatalf("the engine was asked to %s without a gate", req.Action)
	}
	if req.GateID != "" && (run.Gate == nil || run.Gate.ID != req.GateID) {
		return run, &flows.StaleError{Reason: "This question has been answered already or replaced by a newer one; see the latest message in the thread."}
	}
	if req.Actor != alice && req.Actor != bob {
		return run, &flows.DeniedError{User: req.Actor, What: string(req.Action), Reason: "you are not among the configured approvers for " + run.Key.Environment}
	}
	if req.GateID != "" && !run.Gate.Accepts(req.Action) {
		return run, fmt.Errorf("%w: %q is not a choice here", flows.ErrBadInput, req.Action)
	}
	return run, nil
}

func (e *fuzzEngine) Get(_ context.Context, id string) (*flows.Run, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !wellFormedRunID.MatchString(id) {
		e.t.Fatalf("the engine was asked for run %q", id)
	}
	run, ok := e.runs[id]
	if !ok {
		return nil, fmt.Errorf("load run %s: %w", id, flows.ErrRunNotFound)
	}
	return run, nil
}

func (e *fuzzEngine) Assess(context.Context, flows.Key) (flows.Assessment, error) {
	e.t.Fatal("Assess: no alert is sent in the fuzz world")
	return flows.Assessment{}, nil
}

// Expiring answers `/rotate-token expiring`: Signon lists nothing.
func (e *fuzzEngine) Expiring(_ context.Context, env string) ([]flows.Assessment, error) {
	if _, ok := e.policy.Environments[env]; !ok {
		return nil, fmt.Errorf("%w: unknown environment %s", flows.ErrBadInput, flows.Quote(env))
	}
	return nil, nil
}

// StartBatch starts nothing: the fuzz world's only token is started one
// at a time; every key must have been checked by the Slack layer.
func (e *fuzzEngine) StartBatch(_ context.Context, req flows.BatchRequest) (*flows.BatchStarted, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	res := &flows.BatchStarted{Batch: &flows.Batch{ID: flows.NewID("b"), Thread: req.Thread}}
	for _, k := range req.Keys {
		if err := k.Validate(); err != nil || req.Thread.Channel == "" {
			e.t.Fatalf("the engine was asked to start a batch with %+v in %+v, which the Slack layer should have refused", k, req.Thread)
		}
		res.Refused = append(res.Refused, flows.BatchRefusal{Key: k, Err: fmt.Errorf("%w: Signon has no API user with email %s", flows.ErrUnknownAPIUser, k.APIUser)})
	}
	if req.Actor != alice && req.Actor != bob {
		return nil, &flows.DeniedError{User: req.Actor, What: "rotate tokens", Reason: "you are not among the configured starters"}
	}
	return res, nil
}

func (e *fuzzEngine) GetBatch(_ context.Context, id string) (*flows.Batch, error) {
	return nil, fmt.Errorf("load batch %s: %w", id, flows.ErrBatchNotFound)
}

func (e *fuzzEngine) ActBatch(_ context.Context, req flows.BatchActRequest) (*flows.Batch, error) {
	return nil, fmt.Errorf("load batch %s: %w", req.BatchID, flows.ErrBatchNotFound)
}

func (e *fuzzEngine) Active(context.Context) ([]*flows.Run, error) { return nil, nil }

func (e *fuzzEngine) MayStart(_ context.Context, env, user string) (bool, error) {
	if _, ok := e.policy.Environments[env]; !ok {
		e.t.Fatalf("MayStart asked about the environment %q", env)
	}
	return user == alice || user == bob, nil
}

func (e *fuzzEngine) MaySee(_ context.Context, user string) (bool, error) {
	return user == alice || user == bob, nil
}

func (e *fuzzEngine) Policy() flows.Policy { return e.policy }

// AuditTrail is the trail of a run the fuzzed input names: none, as the
// fuzzed engine starts no run.
func (e *fuzzEngine) AuditTrail(_ context.Context, id string) ([]flows.AuditEntry, error) {
	if !wellFormedRunID.MatchString(id) {
		e.t.Fatalf("the engine was asked for the trail of run %q", id)
	}
	return nil, nil
}

func (e *fuzzEngine) calls() ([]flows.StartRequest, []flows.ActRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]flows.StartRequest(nil), e.starts...), append([]flows.ActRequest(nil), e.acts...)
}

// fuzzSlack records what the bot says. Every call succeeds.
type fuzzSlack struct {
	mu         sync.Mutex
	answers    []fuzzAnswer
	ephemerals []string
	posts      int
	views      []slackapi.ModalViewRequest
}

type fuzzAnswer struct {
	url   string
	reply slack.Reply
}

func (s *fuzzSlack) Respond(_ context.Context, url string, r slack.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, fuzzAnswer{url: url, reply: r})
	return nil
}

func (s *fuzzSlack) PostMessage(context.Context, string, ...slackapi.MsgOption) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	return fmt.Sprintf("1764144100.%06d", s.posts), nil
}

func (s *fuzzSlack) PostEphemeral(_ context.Context, channel, _ string, opts ...slackapi.MsgOption) (string, error) {
	_, values, err := slackapi.UnsafeApplyMsgOptions("", channel, "", opts...)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ephemerals = append(s.ephemerals, values.Get("text"))
	return "", nil
}

func (s *fuzzSlack) UpdateMessage(context.Context, string, string, ...slackapi.MsgOption) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	return nil
}

func (s *fuzzSlack) OpenView(_ context.Context, _ string, v slackapi.ModalViewRequest) (*slackapi.ViewResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.views = append(s.views, v)
	return &slackapi.ViewResponse{View: slackapi.View{ID: "V0FORM"}}, nil
}

func (s *fuzzSlack) UpdateView(_ context.Context, _, _ string, v slackapi.ModalViewRequest) (*slackapi.ViewResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.views = append(s.views, v)
	return &slackapi.ViewResponse{View: slackapi.View{ID: "V0FORM"}}, nil
}

func (s *fuzzSlack) answersSnapshot() []fuzzAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fuzzAnswer(nil), s.answers...)
}

func (s *fuzzSlack) ephemeralsSnapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ephemerals...)
}

func (s *fuzzSlack) viewsSnapshot() []slackapi.ModalViewRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slackapi.ModalViewRequest(nil), s.views...)
}

// fuzzOffers holds the fuzz world's offer, with compare-and-set.
type fuzzOffers struct {
	t *testing.T

	mu     sync.Mutex
	offers map[string]*flows.Offer
}

var wellFormedOfferID = regexp.MustCompile(`^o-[a-z0-9]{1,38}$`)

func (s *fuzzOffers) Offer(_ context.Context, id string) (*flows.Offer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !wellFormedOfferID.MatchString(id) {
		s.t.Fatalf("the store was asked for offer %q", id)
	}
	o, ok := s.offers[id]
	if !ok {
		return nil, fmt.Errorf("load offer %s: %w", id, flows.ErrOfferNotFound)
	}
	c := *o
	c.Items = append([]flows.OfferItem(nil), o.Items...)
	return &c, nil
}

func (s *fuzzOffers) UpdateOffer(_ context.Context, o *flows.Offer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.offers[o.ID]
	if !ok {
		return flows.ErrOfferNotFound
	}
	if cur.Version != o.Version {
		return flows.ErrConflict
	}
	o.Version++
	c := *o
	c.Items = append([]flows.OfferItem(nil), o.Items...)
	s.offers[o.ID] = &c
	return nil
}

func (s *fuzzOffers) CreateOffer(context.Context, *flows.Offer) error {
	s.t.Fatal("CreateOffer: no alert is sent in the fuzz world")
	return nil
}

func (s *fuzzOffers) OfferForAlert(context.Context, string, string) (*flows.Offer, error) {
	s.t.Fatal("OfferForAlert: no alert is sent in the fuzz world")
	return nil, nil
}

func (s *fuzzOffers) OfferForKey(context.Context, flows.Key) (*flows.Offer, error) {
	s.t.Fatal("OfferForKey: no alert is sent in the fuzz world")
	return nil, nil
}

func (s *fuzzOffers) UnpostedOffers(context.Context, time.Time) ([]*flows.Offer, error) {
	s.t.Fatal("UnpostedOffers: the fuzz world runs no sweep")
	return nil, nil
}

// unexpectedRuns is commands.ActiveRuns for worlds that send no alerts.
type unexpectedRuns struct{ t *testing.T }

func (u unexpectedRuns) ActiveRun(context.Context, flows.Key) (*flows.Run, error) {
	u.t.Fatal("ActiveRun: no alert is sent in the fuzz world")
	return nil, errors.ErrUnsupported
}

var (
	_ commands.Engine     = (*fuzzEngine)(nil)
	_ commands.SlackAPI   = (*fuzzSlack)(nil)
	_ flows.OfferStore    = (*fuzzOffers)(nil)
	_ commands.ActiveRuns = unexpectedRuns{}
)
