package kubetest

import (
	"context"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// ExecWebSocketOnly runs `true` in a pod's container over WebSocket alone,
// with no SPDY fallback, as rc. A Role that lets exec work only through
// the fallback (create but not get on pods/exec) fails it.
func ExecWebSocketOnly(ctx context.Context, rc *rest.Config, ns, pod, container string) error {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: []string{"true"}, Stdout: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(rc, "GET", req.URL().String())
	if err != nil {
		return err
	}
	return ws.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
}
