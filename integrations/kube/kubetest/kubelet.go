package kubetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/utils/ptr"
)

// Kubelet plays the kubelet of one Node for the pods of one namespace. It
// binds every new pod there to its Node (no scheduler runs), starts it
// (Running and Ready, each container's environment resolved from the pod
// spec at that moment), serves the exec and log requests the apiserver
// proxies to it, and completes pod deletions. Set the fields, then Start.
type Kubelet struct {
	// Images lists, per container image, the only commands its containers
	// have: each (a name on the host's PATH, or a path) is linked into a
	// directory that becomes the container's PATH. A container whose image
	// is not listed gets the host's PATH. A test uses it to make an image
	// without sha256sum, or one with a stand-in `rails`.
	Images map[string][]string

	node  string
	ns    string
	cs    kubernetes.Interface
	dir   string
	store cache.Store
	queue workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	pods    map[string]*podRecord  // by pod name
	paths   map[string]string      // by image: its PATH
	changed chan struct{}          // closed and replaced on every change
	unready func(*corev1.Pod) bool // see SetUnready
	// failing: see SetFailing.
	failing func(*corev1.Pod) string
}

// podRecord is what the kubelet knows of a pod it started.
type podRecord struct {
	uid  types.UID
	job  string              // the owning Job, if any
	env  map[string][]string // by container: the environ it started with
	dirs map[string]string   // by container: its workingDir, if set
	logs map[string][]string // by container
	done bool                // its containers have exited
	// unready is set while the pod runs without becoming Ready.
	unready bool
	// claimed is set when PlaySync takes the pod, so two plays never
	// finish the same pod.
	claimed bool
	// procs are the processes exec requests started in the pod.
	procs *podProcs
}

// Start registers the Node, starts serving, and runs the kubelet until
// the test ends, when it stops and deletes its Node.
func (k *Kubelet) Start(tb testing.TB, config *rest.Config, namespace string) {
	tb.Helper()
	cfg := rest.CopyConfig(config)
	// client-go's default rate limit would make the kubelet, and so every
	// exec and rollout, crawl.
	cfg.QPS, cfg.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatalf("kubetest: kubelet client: %v", err)
	}
	k.cs, k.ns, k.dir = cs, namespace, tb.TempDir()
	k.node = dns1123("kubelet-"+namespace, 63)
	k.pods = map[string]*podRecord{}
	k.paths = map[string]string{}
	k.changed = make(chan struct{})

	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", k.serveExec)
	mux.HandleFunc("/containerLogs/{ns}/{pod}/{container}", k.serveLogs)
	srv := httptest.NewUnstartedServer(mux)
	srv.StartTLS()

	ctx, cancel := context.WithCancel(context.Background())
	k.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	tb.Cleanup(func() {
		cancel()
		k.mu.Lock()
		for _, rec := range k.pods {
			rec.procs.stop()
		}
		k.mu.Unlock()
		k.queue.ShutDown()
		srv.Close()
		_ = cs.CoreV1().Nodes().Delete(context.Background(), k.node, metav1.DeleteOptions{})
	})
	if err := k.register(ctx, srv.Listener.Addr().(*net.TCPAddr).Port); err != nil {
		tb.Fatalf("kubetest: %v", err)
	}
	k.store, err = runInformer(ctx, cs.CoreV1().RESTClient(), "pods", namespace, &corev1.Pod{}, k.queue.Add)
	if err != nil {
		tb.Fatalf("kubetest: kubelet: %v", err)
	}
	go k.work(ctx)
}

func (k *Kubelet) register(ctx context.Context, port int) error {
	node, err := k.cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.node}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("register node %s: %w", k.node, err)
	}
	now := metav1.Now()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("4Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node.Status = corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		// The apiserver proxies exec and logs to this port, speaking TLS
		// without checking the certificate (no
		// --kubelet-certificate-authority).
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: now, LastTransitionTime: now,
		}},
	}
	if _, err := k.cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("set node %s status: %w", k.node, err)
	}
	return nil
}

func (k *Kubelet) work(ctx context.Context) {
	for {
		name, quit := k.queue.Get()
		if quit {
			return
		}
		err := k.sync(ctx, name)
		switch {
		case err == nil:
			k.queue.Forget(name)
		case ctx.Err() == nil:
			k.queue.AddRateLimited(name)
		}
		k.queue.Done(name)
	}
}

// sync moves one pod a step along its life, as far as a kubelet would.
func (k *Kubelet) sync(ctx context.Context, name string) error {
	obj, exists, err := k.store.GetByKey(k.ns + "/" + name)
	if err != nil {
		return err
	}
	if !exists {
		k.forget(name)
		return nil
	}
	pod := obj.(*corev1.Pod)
	switch {
	case pod.DeletionTimestamp != nil:
		if pod.Spec.NodeName != k.node {
			return nil
		}
		// The containers "stop" at once: confirm the deletion as a
		// kubelet does once they have.
		err := k.cs.CoreV1().Pods(k.ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete pod %s: %w", name, err)
		}
		k.forget(name)
		return nil
	case pod.Spec.NodeName == "":
		err := k.cs.CoreV1().Pods(k.ns).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: k.node},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("bind pod %s: %w", name, err)
		}
		return nil
	case pod.Spec.NodeName == k.node && pod.Status.Phase == corev1.PodRunning:
		return k.readyAgain(ctx, pod)
	case pod.Spec.NodeName != k.node || pod.Status.Phase != corev1.PodPending:
		return nil
	}
	return k.startPod(ctx, pod)
}

// startPod resolves every container's environment and reports the pod
// Running and Ready. A missing Secret leaves it Pending with the reason a
// kubelet gives, and it is tried again.
func (k *Kubelet) startPod(ctx context.Context, pod *corev1.Pod) error {
	if reason := k.failure(pod); reason != "" {
		return k.fail(ctx, pod, reason)
	}
	rec := &podRecord{uid: pod.UID, env: map[string][]string{}, dirs: map[string]string{}, logs: map[string][]string{}, procs: &podProcs{}}
	for _, ref := range pod.OwnerReferences {
		if ref.Kind == "Job" {
			rec.job = ref.Name
		}
	}
	now := metav1.Now()
	status := pod.Status.DeepCopy()
	status.ContainerStatuses = nil
	var configErr error
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		environ, err := k.environ(ctx, pod, c)
		if err != nil {
			configErr = err
			status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}},
			})
			continue
		}
		rec.env[c.Name] = environ
		if c.WorkingDir != "" {
			rec.dirs[c.Name] = c.WorkingDir
		}
		status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image,
			ContainerID: "kubetest://" + string(pod.UID) + "/" + c.Name,
			Ready:       true,
			Started:     ptr.To(true),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	status.HostIP = "127.0.0.1"
	status.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	status.StartTime = &now
	if configErr != nil {
		if _, err := k.updateStatus(ctx, pod.Name, pod.UID, status); err != nil {
			return err
		}
		k.queue.AddAfter(pod.Name, time.Second)
		return nil
	}
	status.Phase = corev1.PodRunning
	status.PodIP = "127.0.0.1"
	status.PodIPs = []corev1.PodIP{{IP: "127.0.0.1"}}
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		setCondition(status, t, corev1.ConditionTrue, "", now)
	}
	if rec.unready = k.isUnready(pod); rec.unready {
		notReady(status, now)
	}
	if _, err := k.updateStatus(ctx, pod.Name, pod.UID, status); err != nil {
		return err
	}
	k.mu.Lock()
	k.pods[pod.Name] = rec
	k.notifyLocked()
	k.mu.Unlock()
	return nil
}

// updateStatus writes status to the pod, if it is still the same pod.
func (k *Kubelet) updateStatus(ctx context.Context, name string, uid types.UID, status *corev1.PodStatus) (*corev1.Pod, error) {
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.UID != uid {
			return fmt.Errorf("pod %s was replaced", name)
		}
		pod.Status = *status
		out, err = k.cs.CoreV1().Pods(k.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update status of pod %s: %w", name, err)
	}
	return out, nil
}

func setCondition(s *corev1.PodStatus, t corev1.PodConditionType, v corev1.ConditionStatus, reason string, at metav1.Time) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			if s.Conditions[i].Status != v {
				s.Conditions[i].LastTransitionTime = at
			}
			s.Conditions[i].Status, s.Conditions[i].Reason = v, reason
			return
		}
	}
	s.Conditions = append(s.Conditions, corev1.PodCondition{Type: t, Status: v, Reason: reason, LastTransitionTime: at})
}

// environ is the process environment of a container: the image's PATH
// and a HOME, then what the pod spec gives it.
func (k *Kubelet) environ(ctx context.Context, pod *corev1.Pod, c *corev1.Container) ([]string, error) {
	env, err := containerEnv(ctx, k.cs, pod, c)
	if err != nil {
		return nil, err
	}
	path, err := k.imagePath(c.Image)
	if err != nil {
		return nil, err
	}
	base := map[string]string{"PATH": path, "HOME": k.dir, "HOSTNAME": pod.Name}
	for name, v := range base {
		if _, ok := env[name]; !ok {
			env[name] = v
		}
	}
	environ := make([]string, 0, len(env))
	for name, v := range env {
		environ = append(environ, name+"="+v)
	}
	return environ, nil
}

func (k *Kubelet) imagePath(image string) (string, error) {
	cmds, ok := k.Images[image]
	if !ok {
		return os.Getenv("PATH"), nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if p, ok := k.paths[image]; ok {
		return p, nil
	}
	dir := filepath.Join(k.dir, "images", dns1123(image, 60)+"-"+randomHex(2))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, c := range cmds {
		target, err := exec.LookPath(c)
		if err != nil {
			return "", fmt.Errorf("kubetest: image %s: command %s is not on this machine: %w", image, c, err)
		}
		if err := os.Symlink(target, filepath.Join(dir, filepath.Base(c))); err != nil {
			return "", err
		}
	}
	k.paths[image] = dir
	return dir, nil
}

func (k *Kubelet) forget(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if rec, ok := k.pods[name]; ok {
		rec.procs.stop()
		delete(k.pods, name)
		k.notifyLocked()
	}
}

func (k *Kubelet) notifyLocked() {
	close(k.changed)
	k.changed = make(chan struct{})
}

// running returns a started pod's record, if its containers still run.
func (k *Kubelet) running(ns, name string) (*podRecord, bool) {
	if ns != k.ns {
		return nil, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	rec, ok := k.pods[name]
	if !ok || rec.done {
		return nil, false
	}
	return rec, true
}

// Finish ends a running pod's containers with exitCode, after they wrote
// logs (one entry a line): the pod becomes Succeeded (0) or Failed.
func (k *Kubelet) Finish(ctx context.Context, pod string, exitCode int32, logs ...string) error {
	k.mu.Lock()
	rec, ok := k.pods[pod]
	if ok && !rec.done {
		for c := range rec.env {
			rec.logs[c] = append(rec.logs[c], logs...)
		}
	}
	k.mu.Unlock()
	if !ok {
		return fmt.Errorf("kubetest: pod %s is not running on %s", pod, k.node)
	}
	current, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("kubetest: finish pod %s: %w", pod, err)
	}
	now := metav1.Now()
	status := current.Status.DeepCopy()
	reason := "Completed"
	status.Phase = corev1.PodSucceeded
	if exitCode != 0 {
		status.Phase, reason = corev1.PodFailed, "Error"
	}
	for i := range status.ContainerStatuses {
		cs := &status.ContainerStatuses[i]
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready, cs.Started = false, ptr.To(false)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exitCode, Reason: reason, StartedAt: started, FinishedAt: now,
		}}
	}
	setCondition(status, corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted", now)
	setCondition(status, corev1.PodReady, corev1.ConditionFalse, "PodCompleted", now)
	if _, err := k.updateStatus(ctx, pod, rec.uid, status); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	k.mu.Lock()
	rec.done = true
	k.notifyLocked()
	k.mu.Unlock()
	return nil
}

// Processes lists what `ps` in the pod would show of the commands exec
// requests started there: each live process's argument list as it is
// now. An exec'd command stays until it ends or the pod is deleted,
// whether or not its client is still connected.
func (k *Kubelet) Processes(pod string) [][]string {
	k.mu.Lock()
	rec, ok := k.pods[pod]
	k.mu.Unlock()
	if !ok {
		return nil
	}
	return rec.procs.list()
}

func (k *Kubelet) serveLogs(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("ns") != k.ns {
		http.NotFound(w, r)
		return
	}
	k.mu.Lock()
	rec, ok := k.pods[r.PathValue("pod")]
	var lines []string
	if ok {
		lines = append(lines, rec.logs[r.PathValue("container")]...)
	}
	k.mu.Unlock()
	if !ok {
		http.Error(w, "pod not found on this node", http.StatusNotFound)
		return
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("tailLines")); err == nil && n >= 0 && n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	w.Header().Set("Content-Type", "text/plain")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func (k *Kubelet) serveExec(w http.ResponseWriter, r *http.Request) {
	pod, container := r.PathValue("pod"), r.PathValue("container")
	rec, ok := k.running(r.PathValue("ns"), pod)
	var environ []string
	if ok {
		environ, ok = rec.env[container]
	}
	if !ok {
		http.Error(w, fmt.Sprintf("container %s of pod %s is not running", container, pod), http.StatusNotFound)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "no command", http.StatusBadRequest)
		return
	}
	dir := k.dir
	if d, ok := rec.dirs[container]; ok {
		dir = d
	}
	remotecommand.ServeExec(w, r, &localExec{environ: environ, dir: dir, procs: rec.procs}, pod, string(rec.uid), container, cmd, opts,
		5*time.Minute, remotecommand.DefaultStreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}
