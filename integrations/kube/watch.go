package kube

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// watcher keeps local copies of a few filtered lists of objects up to date
// by list-and-watch (re-listing after a dropped watch), and signals every
// change, so that a wait re-evaluates its condition when something happens
// rather than on a timer.
type watcher struct {
	ctx     context.Context
	changed chan struct{}
	synced  []cache.DoneChecker
}

func newWatcher(ctx context.Context) *watcher {
	return &watcher{ctx: ctx, changed: make(chan struct{}, 1)}
}

// watch adds a list of resource objects in namespace, narrowed by the
// field and label selectors, and returns its store.
func (w *watcher) watch(client rest.Interface, resource, namespace string, obj runtime.Object, fieldSelector, labelSelector string) cache.Store {
	notify := func() {
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	lw := cache.NewFilteredListWatchFromClient(client, resource, namespace, func(o *metav1.ListOptions) {
		o.FieldSelector, o.LabelSelector = fieldSelector, labelSelector
	})
	store, ctrl := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    obj,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { notify() },
			UpdateFunc: func(any, any) { notify() },
			DeleteFunc: func(any) { notify() },
		},
	})
	go ctrl.RunWithContext(w.ctx)
	w.synced = append(w.synced, ctrl.HasSyncedChecker())
	return store
}

// sync waits until every list has been read once. The informers retry a
// failing list forever, so a forbidden or failing list is found by a
// direct call first (see the callers).
func (w *watcher) sync() error {
	// WaitFor logs every wait at info level; nobody needs to read that.
	quiet := klog.NewContext(w.ctx, logr.Discard())
	if !cache.WaitFor(quiet, "watched objects", w.synced...) {
		return fmt.Errorf("read the objects to watch: %w", w.ctx.Err())
	}
	return nil
}
