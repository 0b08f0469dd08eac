package deploytest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
	"github.com/alphagov/signon-token-bot/integrations/kube/rbaccheck"

	appsv1 "k8s.io/api/apps/v1"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// warnings collects the apiserver's warnings.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

// restrictedNamespace makes a namespace whose pods must meet the
// restricted Pod Security Standard, and that warns of workloads that
// would not.
func restrictedNamespace(t *testing.T, cp *kubetest.ControlPlane) string {
	t.Helper()
	ns := cp.Namespace(t)
	patch := []byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted","pod-security.kubernetes.io/warn":"restricted"}}}`)
	if _, err := cp.Clientset(t).CoreV1().Namespaces().Patch(context.Background(), ns, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// Every object each values file renders is accepted by a real apiserver
// (a server-side dry run with strict field validation), but the
// ServiceMonitor, whose CRD the test apiserver does not serve. The bot's
// pod meets the restricted Pod Security Standard.
func TestChartObjectsAcceptedByAPIServer(t *testing.T) {
	helmBin(t)
	cp := kubetest.Shared(t)
	ctx := testContext(t)
	w := &warnings{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(cp.Clientset(t).Discovery())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict}

	for _, c := range []struct {
		name    string
		files   []string
		cronJob string
	}{
		{"defaults", nil, ""},
		{"sentinel", []string{"sentinel.yaml"}, ""},
		{"cluster", []string{"cluster.yaml"}, "sync-tokens"},
		{"rbac-only", []string{"rbac-only.yaml"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			botNS, appsNS := restrictedNamespace(t, cp), cp.Namespace(t)
			objs := mustRender(t, botNS, c.files, map[string]any{
				"rbac":   map[string]any{"targets": []any{map[string]any{"namespace": appsNS, "cronJob": c.cronJob}}},
				"config": map[string]any{"environments": map[string]any{"production": map[string]any{"namespace": appsNS}}},
			})
			served := 0
			for _, o := range objs {
				mapping, err := mapper.RESTMapping(o.gvk.GroupKind(), o.gvk.Version)
				if meta.IsNoMatchError(err) && o.gvk.Kind == "ServiceMonitor" {
					t.Logf("%s: %s is not served by the test apiserver; decoded strictly only", o.source, o.gvk)
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", o.source, err)
				}
				var u unstructured.Unstructured
				if err := json.Unmarshal(o.json, &u.Object); err != nil {
					t.Fatal(err)
				}
				var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
				if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
					if o.ns == "" {
						t.Errorf("%s: %s has no namespace; `helm template | kubectl apply` would put it in the current one", o.source, o.gvk.Kind)
					}
					ri = dyn.Resource(mapping.Resource).Namespace(o.ns)
				}
				if _, err := ri.Create(ctx, &u, dryRun); err != nil {
					t.Errorf("%s: the apiserver refuses %s %s: %v", o.source, o.gvk.Kind, o.name, err)
				}
				if ws := w.take(); len(ws) > 0 {
					t.Errorf("%s: the apiserver warns of %s %s: %q", o.source, o.gvk.Kind, o.name, ws)
				}
				served++
			}
			if served == 0 {
				t.Fatal("nothing was sent to the apiserver")
			}
			// Pod Security admission enforces on pods, not on their
			// Deployment: send the pod the Deployment would make.
			for _, d := range all[*appsv1.Deployment](objs) {
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-pod", Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
					Spec:       d.Spec.Template.Spec,
				}
				if _, err := cp.Clientset(t).CoreV1().Pods(d.Namespace).Create(ctx, pod, dryRun); err != nil {
					t.Errorf("the bot's pod does not meet the restricted Pod Security Standard: %v", err)
				}
			}
		})
	}
}

// As the ServiceAccount the chart makes, bound by the chart's Role and
// RoleBinding in apps, and watched by the chart's admission policies, the
// bot can make every call it makes (the same list integrations/kube checks
// its Role with) and nothing wider. In its own namespace, where the Slack
// tokens' Secret is, it can read nothing.
func TestChartRBACAllowsEveryCallAndNoMore(t *testing.T) {
	helmBin(t)
	cp := kubetest.Shared(t)
	ctx := testContext(t)
	admin := cp.Clientset(t)
	// Fresh namespaces, so that the test can run again on the same
	// control plane (go test -count).
	appsNS, botNS := cp.Namespace(t), cp.Namespace(t)
	f := rbaccheck.NewFixture(t, cp, appsNS)

	objs := mustRender(t, botNS, nil, target(appsNS, kubetest.SyncCronJobName))
	asBot := installRBAC(t, cp, objs)
	if _, err := admin.CoreV1().Secrets(botNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "signon-token-bot-slack"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deps, err := admin.AppsV1().Deployments(appsNS).List(ctx, metav1.ListOptions{})
	if err != nil || len(deps.Items) == 0 {
		t.Fatalf("the fixture made no Deployment: %v", err)
	}
	waitForPolicies(t, asBot, appsNS, deps.Items[0].Name)
	cs, err := kubernetes.NewForConfig(asBot)
	if err != nil {
		t.Fatal(err)
	}
	sa := only[*corev1.ServiceAccount](t, objs)
	who, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if want := "system:serviceaccount:" + botNS + ":" + sa.Name; err != nil || who.Status.UserInfo.Username != want {
		t.Fatalf("the token authenticates as %+v (%v), want %s", who, err, want)
	}

	f.EveryCallAllowed(t, asBot)
	f.WiderCallsDenied(t, asBot)

	for what, call := range map[string]func() error{
		"read the Slack tokens' Secret": func() error {
			_, err := cs.CoreV1().Secrets(botNS).Get(ctx, "signon-token-bot-slack", metav1.GetOptions{})
			return err
		},
		"list pods in its own namespace": func() error {
			_, err := cs.CoreV1().Pods(botNS).List(ctx, metav1.ListOptions{})
			return err
		},
	} {
		if err := call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want forbidden", what, err)
		}
	}
	if verbs := ruleVerbs(only[*rbacv1.Role](t, objs).Rules); slices.Contains(verbs, "*") || slices.Contains(verbs, "delete") || slices.Contains(verbs, "deletecollection") || slices.Contains(verbs, "escalate") || slices.Contains(verbs, "bind") || slices.Contains(verbs, "impersonate") {
		t.Errorf("the Role grants one of *, delete, escalate, bind, impersonate: %v", verbs)
	}
}

func ruleVerbs(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Verbs...)
		for _, res := range r.Resources {
			if strings.Contains(res, "*") {
				out = append(out, "*")
			}
		}
	}
	return out
}
