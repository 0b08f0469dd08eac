package slack

import (
	"net/http"
	"time"
)

// idleConnsPerHost is how many connections to one host the client keeps
// open between calls. net/http's default keeps 2, so when the runner's
// workers answer at once (8 by default, each posting to a response_url on
// the same host) all but two close their connection after the call and
// the next call dials, and against Slack shakes hands over TLS, again.
const idleConnsPerHost = 32

// defaultHTTPClient is the client New uses when given none.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = idleConnsPerHost
	return &http.Client{Timeout: 30 * time.Second, Transport: t}
}
