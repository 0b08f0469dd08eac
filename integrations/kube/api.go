package kube

import (
	"context"
	"errors"
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

// call sends one request and decodes the answer into into (if not nil),
// giving up after the client's CallTimeout. Every single call the bot makes
// goes through here: client-go has no timeout of its own, and a call to an
// apiserver that accepted the connection and then stopped answering would
// otherwise wait as long as its caller does, which for a run's step is for
// ever. Watches and exec streams are bounded by their callers' deadlines
// instead.
func (c *Client) call(ctx context.Context, req *rest.Request, into runtime.Object) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	res := req.Do(cctx)
	raw, err := res.Raw()
	if err == nil && into != nil {
		err = res.Into(into)
	}
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("no answer within %v: %w", c.cfg.CallTimeout, err)
	}
	if err != nil {
		return nil, err
	}
	return raw, nil
}

// get reads one object into into.
func (c *Client) get(ctx context.Context, g rest.Interface, resource, name string, into runtime.Object) error {
	_, err := c.call(ctx, g.Get().Namespace(c.cfg.Namespace).Resource(resource).Name(name).
		VersionedParams(&metav1.GetOptions{}, paramCodec), into)
	return err
}

// list reads the objects opts selects into into, a *List.
func (c *Client) list(ctx context.Context, g rest.Interface, resource string, opts metav1.ListOptions, into runtime.Object) error {
	_, err := c.call(ctx, g.Get().Namespace(c.cfg.Namespace).Resource(resource).
		VersionedParams(&opts, paramCodec), into)
	return err
}
