package kube

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

const (
	// defaultWatchTimeout is client-go's reflector's: each watch asks the
	// server to end it after 5 to 10 minutes.
	defaultWatchTimeout = 5 * time.Minute
	// watchGrace is how long past the timeout it asked for the bot waits
	// for the server to end a watch before ending it itself: a connection
	// that died without closing would otherwise hold a silent watch for
	// ever.
	watchGrace = 30 * time.Second
	// shortWatch: a watch that ends sooner than this having carried no
	// event counts as a failure, so that a server or proxy that ends every
	// watch at once is retried with a back-off, not in a busy loop.
	shortWatch = time.Second
)

// listWatch keeps one store current, as the Kubernetes API concepts
// ("Efficient detection of changes") describe: it lists the objects, then
// watches from the list's resourceVersion. When the server ends a watch
// (at the timeoutSeconds asked for, or as the connection drops) it
// watches again from the last resourceVersion it saw, in an event or a
// BOOKMARK, without listing. Only when the server says that
// resourceVersion has expired (410 Gone, reason Expired, in an ERROR
// event or as the answer to the watch) does it list again. Other failures
// are retried after a bounded back-off; a refusal ends it.
type listWatch struct {
	w                            *watcher
	client                       rest.Interface
	resource, namespace          string
	fieldSelector, labelSelector string
	objType                      reflect.Type
	listKind                     runtime.Object
	store                        *store
	synced                       chan struct{}

	// listed says the store holds a list and rv is where its watch goes
	// on from.
	listed bool
	rv     string
	delay  backoff
}

func newListWatch(w *watcher, client rest.Interface, resource, namespace string, obj runtime.Object, fieldSelector, labelSelector string) *listWatch {
	gvks, _, err := apiScheme.ObjectKinds(obj)
	if err != nil {
		panic(fmt.Sprintf("kube: watch %s: %v", resource, err))
	}
	list, err := apiScheme.New(gvks[0].GroupVersion().WithKind(gvks[0].Kind + "List"))
	if err != nil {
		panic(fmt.Sprintf("kube: watch %s: %v", resource, err))
	}
	return &listWatch{
		w: w, client: client, resource: resource, namespace: namespace,
		fieldSelector: fieldSelector, labelSelector: labelSelector,
		objType: reflect.TypeOf(obj), listKind: list,
		store: newStore(), synced: make(chan struct{}), delay: w.backoff,
	}
}

// run lists and watches until ctx ends or a list or watch is refused.
func (lw *listWatch) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := lw.step(ctx)
		switch {
		case err == nil, ctx.Err() != nil:
		case lw.w.refused(err):
			return
		case !lw.delay.wait(ctx):
			return
		}
	}
}

// step lists if the store needs it, then follows one watch until it
// ends. It returns nil when the server ended the watch in good order.
func (lw *listWatch) step(ctx context.Context) error {
	if !lw.listed {
		if err := lw.list(ctx); err != nil {
			return err
		}
	}
	return lw.follow(ctx)
}

// list reads the whole selection as it is now (resourceVersion "", a
// consistent read): the store then holds exactly what exists.
func (lw *listWatch) list(ctx context.Context) error {
	list := lw.listKind.DeepCopyObject()
	opts := metav1.ListOptions{FieldSelector: lw.fieldSelector, LabelSelector: lw.labelSelector}
	if _, err := lw.w.call(ctx, lw.client.Get().Namespace(lw.namespace).Resource(lw.resource).VersionedParams(&opts, paramCodec), list); err != nil {
		return wrapErr(err, "list "+lw.resource)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return fmt.Errorf("list %s: %w", lw.resource, err)
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return fmt.Errorf("list %s: %w", lw.resource, err)
	}
	if err := lw.store.replace(items); err != nil {
		return fmt.Errorf("list %s: %w", lw.resource, err)
	}
	lw.rv, lw.listed = lm.GetResourceVersion(), true
	lw.w.notify()
	return nil
}

// follow opens a watch from lw.rv and applies its events until it ends.
func (lw *listWatch) follow(ctx context.Context) error {
	asked := lw.w.watchTimeout + rand.N(lw.w.watchTimeout+1)
	secs := int64(asked / time.Second)
	opts := metav1.ListOptions{
		Watch: true, ResourceVersion: lw.rv, AllowWatchBookmarks: true, TimeoutSeconds: &secs,
		FieldSelector: lw.fieldSelector, LabelSelector: lw.labelSelector,
	}
	wctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+watchGrace)
	defer cancel()
	began := time.Now()
	wi, err := lw.client.Get().Namespace(lw.namespace).Resource(lw.resource).VersionedParams(&opts, paramCodec).Watch(wctx)
	if err != nil {
		return lw.failed(err)
	}
	// Synced once listed and watching: a refused watch is then reported
	// by sync, not by the wait after it.
	select {
	case <-lw.synced:
	default:
		close(lw.synced)
	}
	defer func() {
		wi.Stop()
		// The stream's reader ends by closing the channel.
		for range wi.ResultChan() {
		}
	}()
	events := 0
	for ev := range wi.ResultChan() {
		if err := lw.apply(ev); err != nil {
			return lw.failed(err)
		}
		events++
	}
	if ctx.Err() == nil && events == 0 && time.Since(began) < shortWatch {
		return fmt.Errorf("watch %s: the server ended it at once, with no event", lw.resource)
	}
	lw.delay.reset()
	return nil
}

// failed describes a list or watch that failed, and marks the store for a
// new list if the failure says its resourceVersion has expired.
func (lw *listWatch) failed(err error) error {
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		lw.listed = false
	}
	return wrapErr(err, "watch "+lw.resource)
}

// apply records one event in the store and moves lw.rv on.
func (lw *listWatch) apply(ev watch.Event) error {
	if ev.Type == watch.Error {
		return apierrors.FromObject(ev.Object)
	}
	if t := reflect.TypeOf(ev.Object); t != lw.objType {
		return fmt.Errorf("a %s event carried a %v, not a %v", ev.Type, t, lw.objType)
	}
	m, err := meta.Accessor(ev.Object)
	if err != nil {
		return fmt.Errorf("a %s event: %w", ev.Type, err)
	}
	switch ev.Type {
	case watch.Added, watch.Modified:
		err = lw.store.put(ev.Object)
	case watch.Deleted:
		err = lw.store.remove(ev.Object)
	case watch.Bookmark:
		// Only its resourceVersion is set: nothing before it is left to
		// come, so a new watch can go on from there.
	default:
		return fmt.Errorf("an event of unknown type %q", ev.Type)
	}
	if err != nil {
		return fmt.Errorf("a %s event: %w", ev.Type, err)
	}
	lw.rv = m.GetResourceVersion()
	if ev.Type != watch.Bookmark {
		lw.w.notify()
	}
	return nil
}
