package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/alphagov/signon-token-bot/flows"
)

// watcher keeps local copies of a few filtered lists of objects current,
// each by a list and then watches resumed from the last resourceVersion
// seen (listwatch.go), and signals every change, so that a wait
// re-evaluates its condition when something happens rather than on a
// timer. Stop it when the wait is over.
//
// The bot keeps this small list-and-watch of its own rather than
// client-go's informers: leaving tools/cache and what it imports out of
// the binary saves about half a megabyte of resident memory in an idle
// bot, most of it the pages their package initialisers touched
// (docs/benchmarks.md, "watch6").
type watcher struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// changed is signalled after every add, update or delete, and after
	// every list.
	changed chan struct{}
	// failed carries the first refusal of a list or watch. Retrying it
	// would wait for ever for a permission nobody is about to grant.
	failed chan error
	synced []<-chan struct{}

	// call makes a single request with the client's CallTimeout.
	call func(context.Context, *rest.Request, runtime.Object) ([]byte, error)
	// watchTimeout is the least the server is asked to keep a watch
	// open; each watch asks for a random time up to twice that, as
	// client-go's reflector does, so that watches started together do
	// not all end together.
	watchTimeout time.Duration
	// backoff spaces out the attempts after a failed list or watch.
	backoff backoff
}

func (c *Client) newWatcher(ctx context.Context) *watcher {
	ctx, cancel := context.WithCancel(ctx)
	return &watcher{
		ctx: ctx, cancel: cancel,
		changed: make(chan struct{}, 1), failed: make(chan error, 1),
		call: c.call, watchTimeout: defaultWatchTimeout,
		backoff: backoff{initial: defaultBackoffInitial, max: defaultBackoffMax},
	}
}

// watch adds a list of resource objects (of obj's type) in namespace,
// narrowed by the field and label selectors, and returns its store.
func (w *watcher) watch(client rest.Interface, resource, namespace string, obj runtime.Object, fieldSelector, labelSelector string) *store {
	lw := newListWatch(w, client, resource, namespace, obj, fieldSelector, labelSelector)
	w.synced = append(w.synced, lw.synced)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		lw.run(w.ctx)
	}()
	return lw.store
}

func (w *watcher) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// refused reports err if it is a refusal, and says whether it was.
func (w *watcher) refused(err error) bool {
	if !errors.Is(classify(err), flows.ErrForbidden) {
		return false
	}
	select {
	case w.failed <- err:
	default:
	}
	return true
}

// sync waits until every list has been read once, and returns the first
// refusal of a list or watch at once.
func (w *watcher) sync() error {
	for _, synced := range w.synced {
		select {
		case <-synced:
		case err := <-w.failed:
			return err
		case <-w.ctx.Done():
			return fmt.Errorf("read the objects to watch: %w", w.ctx.Err())
		}
	}
	return nil
}

// stop ends every list and watch the watcher started, and returns once
// they have ended.
func (w *watcher) stop() {
	w.cancel()
	w.wg.Wait()
}
