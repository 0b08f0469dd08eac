package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// variableName is what may be spliced into a shell or Ruby snippet: a
// plain environment variable name. Kubernetes allows more; such a
// variable is refused rather than quoted.
var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fingerprintScript prints the SHA-256 of the variable's value, computed
// in the container so that the value never leaves it, or "unset". Images
// without sha256sum fall back to whatever they have that can hash.
const fingerprintScript = `if [ -z "${%[1]s+set}" ]; then echo unset; exit 0; fi
if command -v sha256sum >/dev/null 2>&1; then printf %%s "$%[1]s" | sha256sum
elif command -v openssl >/dev/null 2>&1; then printf %%s "$%[1]s" | openssl dgst -sha256 -r
elif command -v ruby >/dev/null 2>&1; then printf %%s "$%[1]s" | ruby -rdigest -e 'puts Digest::SHA256.hexdigest($stdin.read)'
elif command -v python3 >/dev/null 2>&1; then printf %%s "$%[1]s" | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
elif command -v busybox >/dev/null 2>&1; then printf %%s "$%[1]s" | busybox sha256sum
else echo "no sha256sum, openssl, ruby, python3 or busybox in this image" >&2; exit 127
fi`

// CheckPods computes, in the newest ready pod of the consumer's
// Deployment, the fingerprint of the consumer's variable in its container,
// and compares it with want. An unset variable has no fingerprint and does
// not match. A CronJob has no pod to check until it next runs: that is
// ErrBadInput.
func (c *Client) CheckPods(ctx context.Context, con flows.Consumer, want token.Fingerprint) ([]flows.PodCheck, error) {
	if con.Kind != "Deployment" {
		return nil, fmt.Errorf("check %s %s: only a Deployment has pods to check: %w", con.Kind, con.Name, flows.ErrBadInput)
	}
	if !variableName.MatchString(con.Variable) {
		return nil, fmt.Errorf("check deployment %s: variable %q is not a plain environment variable name: %w", con.Name, con.Variable, flows.ErrBadInput)
	}
	pod, err := c.readyPod(ctx, con.Name, con.Container)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	err = c.exec(ctx, pod.Name, con.Container, []string{"sh", "-c", fmt.Sprintf(fingerprintScript, con.Variable)}, nil, &stdout, &stderr)
	if err != nil {
		var exit *ExitError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("fingerprint %s in pod %s container %s: %w: %s", con.Variable, pod.Name, con.Container, err, firstLine(redact(stderr.String())))
		}
		return nil, err
	}
	check := flows.PodCheck{Pod: pod.Name, Container: con.Container, Variable: con.Variable}
	out := strings.Fields(stdout.String())
	switch {
	case len(out) > 0 && out[0] == "unset":
	case len(out) > 0 && token.FromHexDigest(out[0]) != "":
		check.Fingerprint = token.FromHexDigest(out[0])
		check.Match = check.Fingerprint == want
	default:
		return nil, fmt.Errorf("fingerprint %s in pod %s container %s: the output is not a SHA-256 digest", con.Variable, pod.Name, con.Container)
	}
	return []flows.PodCheck{check}, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
