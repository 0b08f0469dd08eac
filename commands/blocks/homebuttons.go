package blocks

import (
	"strconv"
	"strings"

	"github.com/slack-go/slack"
)

// Action ids of the Home tab's per-token buttons. Each carries a
// HomeValue.
const (
	ActionHomeRotate  = "home.rotate"
	ActionHomeCleanUp = "home.clean-up"
)

// HomeTarget is the token a Home tab button acts on: the environment and
// the pair, by Signon's user and application ids, which the last sweep's
// report resolves.
type HomeTarget struct {
	Environment string
	Pair        DigestPair
}

// HomeValue is a per-token button's value, "env|user.application".
func HomeValue(t HomeTarget) string {
	return t.Environment + "|" + strconv.FormatInt(t.Pair.User, 10) + "." + strconv.FormatInt(t.Pair.Application, 10)
}

// ParseHomeValue reads a HomeValue; ok is false for anything HomeValue did
// not make. The caller still looks the pair up in the last sweep: a
// well-formed value may name a pair the sweep did not report.
func ParseHomeValue(v string) (HomeTarget, bool) {
	env, pair, ok := strings.Cut(v, "|")
	if !ok || len(v) > 100 || !envPattern.MatchString(env) || !pairPattern.MatchString(pair) {
		return HomeTarget{}, false
	}
	u, a, _ := strings.Cut(pair, ".")
	t := HomeTarget{Environment: env}
	var err1, err2 error
	t.Pair.User, err1 = strconv.ParseInt(u, 10, 64)
	t.Pair.Application, err2 = strconv.ParseInt(a, 10, 64)
	if err1 != nil || err2 != nil {
		return HomeTarget{}, false
	}
	return t, true
}

// HomeAnswerCallbackID is the callback_id of the modal that answers a
// Home tab button: it has no submit, so nothing comes back from it.
const HomeAnswerCallbackID = "home.answer"

// HomeAnswer is the modal that answers a click on the Home tab, which,
// unlike a message, gives the bot no response_url to answer through:
// only the person who clicked sees it.
func HomeAnswer(text string) slack.ModalViewRequest {
	return notice(HomeAnswerCallbackID, "Signon API tokens", text)
}

// notice is a modal that only says text, with nothing to submit.
func notice(callbackID, title, text string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: callbackID,
		Title:      plain(title),
		Close:      plain("Close"),
		Blocks:     slack.Blocks{BlockSet: []slack.Block{section(text)}},
	}
}
