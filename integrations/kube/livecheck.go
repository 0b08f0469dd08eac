package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/alphagov/signon-token-bot/flows"
)

// VariablePlaceholder in a live-check argument becomes the name of the
// variable that holds the token.
const VariablePlaceholder = "{{variable}}"

// liveOutputLines is how much of a live check's output is kept.
const liveOutputLines = 10

// builtinLiveChecks are the smoke calls that come with the bot. The
// publishing-api one is the runbook's own check, in a Rails runner instead
// of a console.
var builtinLiveChecks = map[string][]string{
	"publishing-api": {"rails", "runner", `require "gds_api/publishing_api"
client = GdsApi::PublishingApi.new(Plek.new.find("publishing-api"), bearer_token: ENV.fetch("` + VariablePlaceholder + `"))
puts "lookup_content_id(base_path: \"/\") = #{client.lookup_content_id(base_path: "/").inspect}"`},
}

// LiveCheck runs the application's smoke command (Config.LiveChecks, else
// a built-in one) in the newest ready pod of the consumer's Deployment.
// Exit 0 passes; another exit fails the check and its output says why.
// Configured is false when the application has no check or the consumer
// is not a Deployment.
func (c *Client) LiveCheck(ctx context.Context, con flows.Consumer, application string) (flows.LiveCheck, error) {
	cmd, ok := c.cfg.LiveChecks[application]
	if !ok {
		cmd, ok = builtinLiveChecks[application]
	}
	if !ok || con.Kind != "Deployment" {
		return flows.LiveCheck{}, nil
	}
	if !variableName.MatchString(con.Variable) {
		return flows.LiveCheck{}, fmt.Errorf("live check from deployment %s: variable %q is not a plain environment variable name: %w", con.Name, con.Variable, flows.ErrBadInput)
	}
	args := make([]string, len(cmd))
	for i, a := range cmd {
		args[i] = strings.ReplaceAll(a, VariablePlaceholder, con.Variable)
	}
	pod, err := c.readyPod(ctx, con.Name, con.Container)
	if err != nil {
		return flows.LiveCheck{}, err
	}
	lc := flows.LiveCheck{Configured: true, Pod: pod.Name, Command: strings.Join(args, " ")}
	var out syncBuffer
	err = c.exec(ctx, pod.Name, con.Container, args, nil, &out, &out)
	var exit *ExitError
	switch {
	case err == nil:
		lc.Passed = true
	case errors.As(err, &exit):
		out.WriteString(exit.Error())
	default:
		return lc, fmt.Errorf("live check from pod %s: %w", pod.Name, err)
	}
	lc.Output = tail(out.String(), liveOutputLines)
	return lc, nil
}

// syncBuffer is one buffer for stdout and stderr, which the exec streams
// write from different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) WriteString(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail returns the last n lines, redacted.
func tail(text string, n int) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		lines = append(lines, redact(sc.Text()))
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
