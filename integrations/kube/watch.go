package kube

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/alphagov/signon-token-bot/flows"
)

// watcher keeps local copies of a few filtered lists of objects up to date
// by list-and-watch (re-listing after a dropped watch), and signals every
// change, so that a wait re-evaluates its condition when something happens
// rather than on a timer. Stop it when the wait is over.
type watcher struct {
	ctx     context.Context
	stop    context.CancelFunc
	changed chan struct{}
	// failed carries the first refusal of a list or watch. An informer
	// would retry it for ever, and a refused watch would quietly turn
	// into polling by re-listing.
	failed chan error
	synced []cache.DoneChecker
}

func newWatcher(ctx context.Context) *watcher {
	ctx, stop := context.WithCancel(ctx)
	return &watcher{ctx: ctx, stop: stop, changed: make(chan struct{}, 1), failed: make(chan error, 1)}
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
	list, watchFn := lw.ListWithContextFunc, lw.WatchFuncWithContext
	lw.ListWithContextFunc = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		out, err := list(ctx, o)
		w.refused(err, "list "+resource)
		return out, err
	}
	lw.WatchFuncWithContext = func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		out, err := watchFn(ctx, o)
		w.refused(err, "watch "+resource)
		return out, err
	}
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

func (w *watcher) refused(err error, what string) {
	if errors.Is(classify(err), flows.ErrForbidden) {
		select {
		case w.failed <- wrapErr(err, what):
		default:
		}
	}
}

// sync waits until every list has been read once.
func (w *watcher) sync() error {
	done := make(chan bool, 1)
	go func() {
		// WaitFor logs every wait at info level; nobody needs to read that.
		done <- cache.WaitFor(klog.NewContext(w.ctx, logr.Discard()), "watched objects", w.synced...)
	}()
	select {
	case ok := <-done:
		if !ok {
			return fmt.Errorf("read the objects to watch: %w", w.ctx.Err())
		}
		return nil
	case err := <-w.failed:
		return err
	}
}
