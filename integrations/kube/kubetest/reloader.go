package kubetest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
)

// Stakater Reloader's annotations (annotation strategy).
const (
	ReloaderAuto             = "reloader.stakater.com/auto"
	ReloaderLastReloadedFrom = "reloader.stakater.com/last-reloaded-from"
)

// Reloader plays Stakater Reloader in one namespace: when the data of a
// Secret changes, every Deployment annotated reloader.stakater.com/auto:
// "true" whose containers read that Secret (env secretKeyRef or envFrom)
// gets the pod-template annotation last-reloaded-from, and the real
// Deployment controller rolls it out. Secrets created or deleted reload
// nothing, as with Reloader's defaults.
type Reloader struct {
	mu      sync.Mutex
	reloads []string
}

// StartReloader runs a Reloader until the test ends.
func StartReloader(tb testing.TB, config *rest.Config, namespace string) *Reloader {
	tb.Helper()
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		tb.Fatalf("kubetest: reloader client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	queue := workqueue.NewTyped[string]()
	tb.Cleanup(func() {
		cancel()
		queue.ShutDown()
	})
	store, err := runInformer(ctx, cs.CoreV1().RESTClient(), "secrets", namespace, &corev1.Secret{}, queue.Add)
	if err != nil {
		tb.Fatalf("kubetest: reloader: %v", err)
	}
	r := &Reloader{}
	go func() {
		hashes := map[string]string{} // by Secret: the hash of its data
		for {
			name, quit := queue.Get()
			if quit {
				return
			}
			o, exists, _ := store.GetByKey(namespace + "/" + name)
			old, known := hashes[name]
			switch {
			case !exists:
				delete(hashes, name)
			default:
				s := o.(*corev1.Secret)
				h := dataHash(s.Data)
				hashes[name] = h
				if known && old != h {
					if err := r.reload(ctx, cs, s, h); err != nil && ctx.Err() == nil {
						tb.Errorf("kubetest: reloader: %v", err)
					}
				}
			}
			queue.Done(name)
		}
	}()
	return r
}

// Reloaded returns the Deployments patched so far, in order.
func (r *Reloader) Reloaded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reloads...)
}

func (r *Reloader) reload(ctx context.Context, cs kubernetes.Interface, s *corev1.Secret, hash string) error {
	deps, err := cs.AppsV1().Deployments(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list deployments: %w", err)
	}
	for _, d := range deps.Items {
		if d.Annotations[ReloaderAuto] != "true" {
			continue
		}
		containers := readers(&d, s.Name)
		if len(containers) == 0 {
			continue
		}
		source, _ := json.Marshal(map[string]any{
			"type": "SECRET", "name": s.Name, "namespace": s.Namespace, "hash": hash,
			"containerRefs": containers, "observedAt": time.Now().Unix(),
		})
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"annotations": map[string]string{ReloaderLastReloadedFrom: string(source)}},
		}}})
		if _, err := cs.AppsV1().Deployments(s.Namespace).Patch(ctx, d.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "reloader"}); err != nil {
			return fmt.Errorf("reload deployment %s: %w", d.Name, err)
		}
		r.mu.Lock()
		r.reloads = append(r.reloads, d.Name)
		r.mu.Unlock()
	}
	return nil
}

// readers returns the containers of d that read the Secret.
func readers(d *appsv1.Deployment, secret string) []string {
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		reads := false
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == secret {
				reads = true
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && e.SecretRef.Name == secret {
				reads = true
			}
		}
		if reads {
			names = append(names, c.Name)
		}
	}
	return names
}

func dataHash(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha1.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(data[k])
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
