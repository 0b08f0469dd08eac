package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/alphagov/signon-token-bot/flows"
)

// ExitError is a command that ran in a container and exited non-zero.
type ExitError struct {
	Pod       string
	Container string
	Code      int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("command in pod %s container %s exited with status %d", e.Pod, e.Container, e.Code)
}

// ExitStatus is the command's exit code.
func (e *ExitError) ExitStatus() int { return e.Code }

// readyPod picks the newest ready, running pod of the Deployment that has
// the container.
func (c *Client) readyPod(ctx context.Context, deployment, container string) (*corev1.Pod, error) {
	ns := c.cfg.Namespace
	_, sel, err := c.deployment(ctx, deployment)
	if err != nil {
		return nil, err
	}
	var pods corev1.PodList
	if err := c.list(ctx, c.api.core, "pods", metav1.ListOptions{LabelSelector: sel.String()}, &pods); err != nil {
		return nil, wrapErr(err, "list pods of deployment "+deployment)
	}
	var ready []*corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(p) && hasContainer(p, container) {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return nil, fmt.Errorf("deployment %s/%s has no ready pod with container %s: %w", ns, deployment, container, flows.ErrNotFound)
	}
	return slices.MaxFunc(ready, func(a, b *corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) }), nil
}

// deployment reads a Deployment and the selector of its pods.
func (c *Client) deployment(ctx context.Context, name string) (*appsv1.Deployment, labels.Selector, error) {
	ns := c.cfg.Namespace
	var d appsv1.Deployment
	if err := c.get(ctx, c.api.apps, "deployments", name, &d); err != nil {
		return nil, nil, wrapErr(err, fmt.Sprintf("get deployment %s/%s", ns, name))
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, nil, fmt.Errorf("deployment %s/%s selector: %w", ns, name, err)
	}
	return &d, sel, nil
}

func hasContainer(p *corev1.Pod, name string) bool {
	return slices.ContainsFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == name })
}

// exec runs command in the container as `kubectl exec` does: WebSocket
// first, SPDY if the upgrade to WebSocket fails. A non-zero exit is an
// *ExitError. It gives up at ctx's deadline or after ExecTimeout, whichever
// comes first. Giving up closes the stream but does not stop the command:
// a container runtime lets an exec'd process run on, so a command that
// must not outlive the bot's wait has to bound itself in the pod (as the
// Signon client's does with timeout(1)).
func (c *Client) exec(ctx context.Context, pod, container string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ns := c.cfg.Namespace
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ExecTimeout)
	defer cancel()
	// The kubelet refuses an exec with no streams at all.
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	req := c.api.core.Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   command,
			Stdin:     stdin != nil,
			Stdout:    true,
			Stderr:    true,
		}, paramCodec)
	ws, err := remotecommand.NewWebSocketExecutor(c.rest, "GET", req.URL().String())
	if err != nil {
		return fmt.Errorf("exec in pod %s: %w", pod, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.rest, "POST", req.URL())
	if err != nil {
		return fmt.Errorf("exec in pod %s: %w", pod, err)
	}
	opts := remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	err = ws.StreamWithContext(ctx, opts)
	var upgrade *httpstream.UpgradeFailureError
	if errors.As(err, &upgrade) || httpstream.IsHTTPSProxyError(err) {
		// kubectl's fallback, for a proxy or an older apiserver that will
		// not upgrade to WebSocket. Nothing was streamed yet.
		wsErr := err
		err = spdy.StreamWithContext(ctx, opts)
		// SPDY reports a refusal as text; the WebSocket attempt's is an
		// API status, which says whether it was forbidden or missing.
		var status apierrors.APIStatus
		if err != nil && upgrade != nil && errors.As(upgrade.Cause, &status) && strings.HasPrefix(err.Error(), "unable to upgrade connection") {
			err = wsErr
		}
	}
	var exit utilexec.ExitError
	if errors.As(err, &exit) {
		return &ExitError{Pod: pod, Container: container, Code: exit.ExitStatus()}
	}
	if err != nil {
		if errors.As(err, &upgrade) {
			// UpgradeFailureError does not unwrap to its cause.
			err = upgrade.Cause
		}
		return wrapErr(err, fmt.Sprintf("exec in pod %s/%s container %s", ns, pod, container))
	}
	return nil
}

// PodRunner runs commands in a ready pod of one Deployment's container;
// the Signon integration runs its Ruby through one.
type PodRunner struct {
	c          *Client
	deployment string
	container  string
}

// Runner returns a PodRunner for the container of the Deployment.
func (c *Client) Runner(deployment, container string) *PodRunner {
	return &PodRunner{c: c, deployment: deployment, container: container}
}

// SignonRunner returns the PodRunner for Signon's own container.
func (c *Client) SignonRunner() *PodRunner {
	return c.Runner(c.cfg.SignonDeployment, c.cfg.SignonContainer)
}

// Run picks a ready pod and runs command in it, wiring stdin, stdout and
// stderr (any may be nil). A non-zero exit is an *ExitError, which has
// ExitStatus.
func (r *PodRunner) Run(ctx context.Context, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	pod, err := r.c.readyPod(ctx, r.deployment, r.container)
	if err != nil {
		return err
	}
	return r.c.exec(ctx, pod.Name, r.container, command, stdin, stdout, stderr)
}
