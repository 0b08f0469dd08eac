package slack_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// TestAnswersReuseTheirConnections: eight workers answering through
// response_urls at once, round after round, keep their connections
// instead of dialling for most calls (net/http keeps two per host by
// default, so six of eight would dial again every round).
func TestAnswersReuseTheirConnections(t *testing.T) {
	var dialled atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := slack.New(slack.Config{BotToken: "xoxb-test", APIURL: srv.URL + "/api/"})
	const workers, rounds = 8, 10
	ctx := context.Background()
	for range rounds {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				if err := c.Respond(ctx, srv.URL+"/respond", slack.Reply{Text: "ok"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	// A connection goes back to the pool just after its answer is read,
	// so a round can start before the last one's is back and dial again:
	// a few more than the workers. net/http's two idle connections per
	// host dialled 45 here.
	if n, most := dialled.Load(), int64(2*workers); n > most {
		t.Errorf("%d answers in rounds of %d dialled %d connections, want at most %d", workers*rounds, workers, n, most)
	}
}
