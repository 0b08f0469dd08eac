package kubetest

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

// runInformer lists and watches one resource in a namespace, calling
// onChange with the key (name) of every object added, changed or deleted,
// until ctx ends. It returns once the first list is in the store.
func runInformer(ctx context.Context, client rest.Interface, resource, namespace string, obj runtime.Object, onChange func(name string)) (cache.Store, error) {
	enqueue := func(o any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
			_, name, _ := cache.SplitMetaNamespaceKey(key)
			onChange(name)
		}
	}
	store, ctrl := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: cache.NewFilteredListWatchFromClient(client, resource, namespace, func(*metav1.ListOptions) {}),
		ObjectType:    obj,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, o any) { enqueue(o) },
			DeleteFunc: enqueue,
		},
	})
	go ctrl.RunWithContext(ctx)
	// WaitFor logs every wait at info level; nobody needs to read that.
	quiet := klog.NewContext(ctx, logr.Discard())
	if !cache.WaitFor(quiet, resource, ctrl.HasSyncedChecker()) {
		return nil, fmt.Errorf("list %s in %s: %w", resource, namespace, ctx.Err())
	}
	return store, nil
}
