package kube

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// The bot calls three API groups. client-go's clientset would register
// every group Kubernetes serves (some fifty) when the program starts,
// which costs about 7 MB resident for types the bot never sees; a REST
// client per group over a scheme of just these three does not.
var (
	apiScheme  = runtime.NewScheme()
	apiCodecs  = serializer.NewCodecFactory(apiScheme)
	paramCodec = runtime.NewParameterCodec(apiScheme)
)

func init() {
	utilruntime.Must(corev1.AddToScheme(apiScheme))
	utilruntime.Must(appsv1.AddToScheme(apiScheme))
	utilruntime.Must(batchv1.AddToScheme(apiScheme))
	// Status, the body of every refusal, is unversioned.
	metav1.AddToGroupVersion(apiScheme, schema.GroupVersion{Version: "v1"})
}

// groups holds a REST client for each API group, sharing one HTTP client
// and one rate limiter as the clientset's do.
type groups struct {
	core, apps, batch rest.Interface
}

func newGroups(rc *rest.Config) (groups, error) {
	base := rest.CopyConfig(rc)
	if base.UserAgent == "" {
		base.UserAgent = "signon-token-bot"
	}
	if base.RateLimiter == nil {
		base.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(base.QPS, base.Burst)
	}
	hc, err := rest.HTTPClientFor(base)
	if err != nil {
		return groups{}, fmt.Errorf("kubernetes HTTP client for %s: %w", base.Host, err)
	}
	client := func(gv schema.GroupVersion, apiPath string) (rest.Interface, error) {
		c := rest.CopyConfig(base)
		c.GroupVersion = &gv
		c.APIPath = apiPath
		c.NegotiatedSerializer = apiCodecs.WithoutConversion()
		rc, err := rest.RESTClientForConfigAndClient(c, hc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client for %s at %s: %w", gv, base.Host, err)
		}
		return rc, nil
	}
	var g groups
	if g.core, err = client(corev1.SchemeGroupVersion, "/api"); err != nil {
		return groups{}, err
	}
	if g.apps, err = client(appsv1.SchemeGroupVersion, "/apis"); err != nil {
		return groups{}, err
	}
	if g.batch, err = client(batchv1.SchemeGroupVersion, "/apis"); err != nil {
		return groups{}, err
	}
	return g, nil
}

// get reads one object into into.
func get(ctx context.Context, g rest.Interface, ns, resource, name string, into runtime.Object) error {
	return g.Get().Namespace(ns).Resource(resource).Name(name).
		VersionedParams(&metav1.GetOptions{}, paramCodec).Do(ctx).Into(into)
}

// list reads the objects opts selects into into, a *List.
func list(ctx context.Context, g rest.Interface, ns, resource string, opts metav1.ListOptions, into runtime.Object) error {
	return g.Get().Namespace(ns).Resource(resource).
		VersionedParams(&opts, paramCodec).Do(ctx).Into(into)
}
