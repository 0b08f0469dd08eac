package deploytest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/integrations/kube"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

// target is the values for one target namespace and its sync CronJob.
func target(ns, cronJob string) map[string]any {
	return map[string]any{"rbac": map[string]any{"targets": []any{map[string]any{"namespace": ns, "cronJob": cronJob}}}}
}

// installRBAC creates, as the administrator, what the chart renders for
// the bot's identity (its ServiceAccount, Roles, RoleBindings and
// admission policies with their bindings) and returns a config that
// authenticates as the ServiceAccount with a token, as the kubelet would
// mount in the bot's pod.
func installRBAC(t *testing.T, cp *kubetest.ControlPlane, objs rendered) *rest.Config {
	t.Helper()
	ctx := testContext(t)
	admin := cp.Clientset(t)
	sa := only[*corev1.ServiceAccount](t, objs)
	if _, err := admin.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		var err error
		switch o := o.typed.(type) {
		case *rbacv1.Role:
			_, err = admin.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = admin.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *admissionregistrationv1.ValidatingAdmissionPolicy:
			_, err = admin.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, o, metav1.CreateOptions{})
		case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
			_, err = admin.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("%s: %v", o.source, err)
		}
	}
	tr, err := admin.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &rest.Config{
		Host:            cp.Config.Host,
		BearerToken:     tr.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.Config.CAData},
		QPS:             100,
		Burst:           200,
	}
}

// waitForPolicies waits until the API server enforces the chart's
// policies in ns, which it loads a moment after they are created: until a
// Job the bot would not make, and a replica count patched into the
// Deployment, are refused. Both are dry runs, so nothing changes.
func waitForPolicies(t *testing.T, asBot *rest.Config, ns, deployment string) {
	t.Helper()
	ctx := testContext(t)
	cs, err := kubernetes.NewForConfig(asBot)
	if err != nil {
		t.Fatal(err)
	}
	probe := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "policy-probe"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "probe", Image: "probe"}},
		}}},
	}
	dryRun := []string{metav1.DryRunAll}
	for what, call := range map[string]func() error{
		"a Job": func() error {
			_, err := cs.BatchV1().Jobs(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: dryRun})
			return err
		},
		"a Deployment's replicas": func() error {
			_, err := cs.AppsV1().Deployments(ns).Patch(ctx, deployment, types.MergePatchType, []byte(`{"spec":{"replicas":7}}`), metav1.PatchOptions{DryRun: dryRun})
			return err
		},
	} {
		var last error
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			last = call()
			return apierrors.IsForbidden(last) && strings.Contains(last.Error(), "ValidatingAdmissionPolicy"), nil
		})
		if err != nil {
			t.Fatalf("the admission policies do not refuse %s as the bot: %v", what, last)
		}
	}
}

const (
	consumer     = "whitehall-admin"
	syncAccount  = "signon-sync-token-secrets"
	podAnnotated = "prometheus.io/scrape"
)

// The chart's admission policies, applied with its Role to a real API
// server, admit the Job and the restarts the bot's own client makes, as
// the chart's ServiceAccount, and refuse, with a message that says why,
// everything else the Role alone would let that identity do to Jobs and
// Deployments.
func TestChartAdmissionPolicyAdmitsOnlyTheBot(t *testing.T) {
	helmBin(t)
	cp := kubetest.Shared(t)
	ctx := testContext(t)
	admin := cp.Clientset(t)
	appsNS, botNS := cp.Namespace(t), cp.Namespace(t)
	objs := mustRender(t, botNS, nil, target(appsNS, kubetest.SyncCronJobName))
	asBot := installRBAC(t, cp, objs)
	cs, err := kubernetes.NewForConfig(asBot)
	if err != nil {
		t.Fatal(err)
	}

	// The sync runs as its own ServiceAccount, which may write every token
	// Secret: the identity a forged Job would borrow.
	cj := kubetest.SyncCronJob(appsNS)
	cj.Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName = syncAccount
	if cj, err = admin.BatchV1().CronJobs(appsNS).Create(ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dep := kubetest.ConsumerDeployment(appsNS, consumer, "PUBLISHING_API_BEARER_TOKEN", "signon-token-whitehall-publishing-api")
	dep.Spec.Template.Annotations = map[string]string{podAnnotated: "true"}
	if _, err := admin.AppsV1().Deployments(appsNS).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForPolicies(t, asBot, appsNS, consumer)

	// The bot's own calls.
	bot, err := kube.NewForConfig(asBot, kube.Config{Namespace: appsNS})
	if err != nil {
		t.Fatal(err)
	}
	started, err := bot.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatalf("the bot's own sync Job is refused: %v", err)
	}
	for _, at := range []time.Time{time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), time.Date(2026, 12, 1, 10, 45, 0, 0, time.UTC)} {
		if err := bot.RestartDeployment(ctx, consumer, at); err != nil {
			t.Fatalf("the bot's own restart is refused: %v", err)
		}
		d, err := admin.AppsV1().Deployments(appsNS).Get(ctx, consumer, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Spec.Template.Annotations; got[kube.AnnotationRestartedAt] != at.Format(time.RFC3339) || got[podAnnotated] != "true" {
			t.Errorf("after a restart at %s the pod template's annotations are %v", at.Format(time.RFC3339), got)
		}
	}

	made, err := admin.BatchV1().Jobs(appsNS).Get(ctx, started.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const copied = "signon-token-bot may only create a Job copied from CronJob " + kubetest.SyncCronJobName + ": "
	for _, c := range []struct {
		name   string
		change func(j *batchv1.Job, pod *corev1.PodSpec)
		want   string
	}{
		{"the bot's own, again", func(*batchv1.Job, *corev1.PodSpec) {}, ""},
		{"another image", func(_ *batchv1.Job, pod *corev1.PodSpec) {
			pod.Containers[0].Image = "ghcr.io/example/tools:latest"
		}, copied + "this one runs image ghcr.io/example/tools:latest, the CronJob ghcr.io/alphagov/signon:release"},
		{"another command", func(_ *batchv1.Job, pod *corev1.PodSpec) {
			pod.Containers[0].Command = []string{"rails", "runner", "puts ApiUser.all.map(&:authorisations)"}
		}, copied + "this one runs another command or other arguments"},
		{"another ServiceAccount", func(_ *batchv1.Job, pod *corev1.PodSpec) {
			pod.ServiceAccountName, pod.DeprecatedServiceAccount = "default", ""
		}, copied + "this one runs as ServiceAccount default, the CronJob as " + syncAccount},
		{"an extra volume", func(_ *batchv1.Job, pod *corev1.PodSpec) {
			pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}, copied + "its pod spec differs in volumes"},
		{"another pod label", func(j *batchv1.Job, _ *corev1.PodSpec) {
			j.Spec.Template.Labels["app"] = "signon"
		}, copied + "its pod template metadata differs in labels"},
		{"ten at once", func(j *batchv1.Job, _ *corev1.PodSpec) {
			j.Spec.Parallelism, j.Spec.Completions = ptr.To[int32](10), ptr.To[int32](10)
		}, copied + "its spec differs in "},
		{"without the run's annotation", func(j *batchv1.Job, _ *corev1.PodSpec) {
			delete(j.Annotations, kube.AnnotationRunID)
		}, copied + "it must carry the annotations cronjob.kubernetes.io/instantiate: manual and signon-token-bot/run-id"},
		{"another annotation", func(j *batchv1.Job, _ *corev1.PodSpec) {
			j.Annotations["example.com/note"] = "x"
		}, "(it differs in example.com/note)"},
		{"not owned by the CronJob", func(j *batchv1.Job, _ *corev1.PodSpec) {
			j.OwnerReferences = nil
		}, copied + "it must be owned by the CronJob, and by nothing else"},
		{"a finalizer", func(j *batchv1.Job, _ *corev1.PodSpec) {
			j.Finalizers = []string{"example.com/keep"}
		}, copied + "it sets metadata the bot never sets: finalizers"},
	} {
		t.Run("job/"+c.name, func(t *testing.T) {
			j := resubmittable(made)
			c.change(j, &j.Spec.Template.Spec)
			_, err := cs.BatchV1().Jobs(appsNS).Create(ctx, j, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			checkAdmission(t, err, c.want)
		})
	}

	restart := func(at string) []byte {
		return fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, kube.AnnotationRestartedAt, at)
	}
	const restartOnly = "signon-token-bot may only restart a Deployment, changing nothing but spec.template.metadata.annotations[kubectl.kubernetes.io/restartedAt]; this request changes "
	for _, c := range []struct {
		name  string
		patch []byte
		pt    types.PatchType
		want  string
	}{
		{"a restart, kubectl's way", restart("2026-12-01T11:00:00+01:00"), types.StrategicMergePatchType, ""},
		{"a restart by JSON patch", fmt.Appendf(nil, `[{"op":"replace","path":"/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt","value":"2026-12-01T12:00:00Z"}]`), types.JSONPatchType, ""},
		{"an image", []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"ghcr.io/example/tools:latest"}]}}}}`), types.StrategicMergePatchType, restartOnly + "spec.template.spec"},
		{"an image with a restart", []byte(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-12-01T13:00:00Z"}},"spec":{"containers":[{"name":"app","image":"ghcr.io/example/tools:latest"}]}}}}`), types.StrategicMergePatchType, restartOnly + "spec.template.spec"},
		{"replicas", []byte(`{"spec":{"replicas":0}}`), types.MergePatchType, restartOnly + "spec.replicas"},
		{"another pod annotation", []byte(`{"spec":{"template":{"metadata":{"annotations":{"prometheus.io/scrape":"false"}}}}}`), types.MergePatchType, restartOnly + "spec.template.metadata.annotations[prometheus.io/scrape]"},
		{"a pod label", []byte(`{"spec":{"template":{"metadata":{"labels":{"team":"x"}}}}}`), types.MergePatchType, restartOnly + "spec.template.metadata.labels"},
		{"a label", []byte(`{"metadata":{"labels":{"team":"x"}}}`), types.MergePatchType, restartOnly + "metadata.labels"},
		{"restartedAt not a time", restart("now"), types.StrategicMergePatchType, "must be a time such as 2026-12-01T09:30:00Z"},
	} {
		t.Run("deployment/"+c.name, func(t *testing.T) {
			_, err := cs.AppsV1().Deployments(appsNS).Patch(ctx, consumer, c.pt, c.patch, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
			checkAdmission(t, err, c.want)
		})
	}
	// A Role widened by mistake still leaves the bot only its two writes.
	wider := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "wider", Namespace: appsNS},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"delete", "patch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "deployments/scale"}, Verbs: []string{"create", "delete", "patch"}},
		},
	}
	if _, err := admin.RbacV1().Roles(appsNS).Create(ctx, wider, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := only[*corev1.ServiceAccount](t, objs)
	if _, err := admin.RbacV1().RoleBindings(appsNS).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "wider", Namespace: appsNS},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "wider"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dryRun := []string{metav1.DryRunAll}
	for _, c := range []struct {
		name string
		call func() error
		want string
	}{
		{"delete the Job", func() error {
			return cs.BatchV1().Jobs(appsNS).Delete(ctx, started.Name, metav1.DeleteOptions{DryRun: dryRun})
		}, "signon-token-bot may only create Jobs, copied from the sync CronJob, not DELETE jobs"},
		{"update the Job", func() error {
			_, err := cs.BatchV1().Jobs(appsNS).Patch(ctx, started.Name, types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{DryRun: dryRun})
			return err
		}, "signon-token-bot may only create Jobs, copied from the sync CronJob, not UPDATE jobs"},
		{"delete the Deployment", func() error {
			return cs.AppsV1().Deployments(appsNS).Delete(ctx, consumer, metav1.DeleteOptions{DryRun: dryRun})
		}, "signon-token-bot may only restart a Deployment, not DELETE deployments"},
		{"scale the Deployment", func() error {
			_, err := cs.AppsV1().Deployments(appsNS).Patch(ctx, consumer, types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{DryRun: dryRun}, "scale")
			return err
		}, "signon-token-bot may only restart a Deployment, not UPDATE deployments/scale"},
		{"create a Deployment", func() error {
			d := kubetest.ConsumerDeployment(appsNS, "another", "X", "y")
			_, err := cs.AppsV1().Deployments(appsNS).Create(ctx, d, metav1.CreateOptions{DryRun: dryRun})
			return err
		}, "signon-token-bot may only restart a Deployment, not CREATE deployments"},
	} {
		t.Run("wider role/"+c.name, func(t *testing.T) {
			// The binding reaches the API server's cache a moment later.
			var err error
			if werr := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
				err = c.call()
				return !apierrors.IsForbidden(err) || strings.Contains(err.Error(), "ValidatingAdmissionPolicy"), nil
			}); werr != nil {
				t.Fatalf("RBAC still refuses: %v", err)
			}
			checkAdmission(t, err, c.want)
		})
	}

	// Without its CronJob, the policy admits no Job at all.
	if err := admin.BatchV1().CronJobs(appsNS).Delete(ctx, cj.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var last error
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, last = cs.BatchV1().Jobs(appsNS).Create(ctx, resubmittable(made), metav1.CreateOptions{DryRun: dryRun})
		return last != nil, nil
	}); err != nil {
		t.Fatalf("with the CronJob gone, the bot's Job is still admitted")
	}
	if !strings.Contains(last.Error(), "ValidatingAdmissionPolicy") || !strings.Contains(last.Error(), "no params found") {
		t.Errorf("with the CronJob gone, the bot's Job is refused with %v; want the policy's refusal for want of its CronJob", last)
	}
}

// checkAdmission fails t unless err is nil when want is empty, or a
// refusal by one of the chart's policies whose message holds want.
func checkAdmission(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("refused: %v", err)
	case want == "":
	case err == nil:
		t.Errorf("admitted; want a refusal saying %q", want)
	case !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy") || !strings.Contains(err.Error(), want):
		t.Errorf("refused with %v; want a policy's refusal saying %q", err, want)
	}
}

// resubmittable is a Job as it was sent: without what the API server
// added when it stored it, under a new name.
func resubmittable(stored *batchv1.Job) *batchv1.Job {
	j := stored.DeepCopy()
	j.ObjectMeta = metav1.ObjectMeta{
		Name:            stored.Name + "-again",
		Labels:          j.Labels,
		Annotations:     j.Annotations,
		OwnerReferences: j.OwnerReferences,
	}
	for _, l := range []string{batchv1.ControllerUidLabel, batchv1.JobNameLabel, "controller-uid", "job-name"} {
		delete(j.Spec.Template.Labels, l)
		delete(j.Labels, l)
	}
	j.Spec.Selector = nil
	j.Status = batchv1.JobStatus{}
	return j
}

// The policies the API server holds type-check against the kinds they
// read: its status controller reports no warnings.
func TestChartAdmissionPoliciesTypeCheck(t *testing.T) {
	helmBin(t)
	cp := kubetest.Shared(t)
	ctx := testContext(t)
	admin := cp.Clientset(t)
	appsNS, botNS := cp.Namespace(t), cp.Namespace(t)
	objs := mustRender(t, botNS, nil, target(appsNS, ""))
	policies := all[*admissionregistrationv1.ValidatingAdmissionPolicy](objs)
	if len(policies) != 2 {
		t.Fatalf("rendered %v, want two policies", objs.kinds())
	}
	for _, p := range policies {
		if _, err := admin.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var got *admissionregistrationv1.ValidatingAdmissionPolicy
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			var err error
			got, err = admin.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, p.Name, metav1.GetOptions{})
			return err == nil && got.Status.ObservedGeneration == got.Generation && got.Status.TypeChecking != nil, err
		})
		if err != nil {
			t.Fatalf("%s: no type-checking status: %v", p.Name, err)
		}
		if w := got.Status.TypeChecking.ExpressionWarnings; len(w) > 0 {
			b, _ := json.MarshalIndent(w, "", "  ")
			t.Errorf("%s: type-checking warnings:\n%s", p.Name, b)
		}
		for _, c := range got.Status.Conditions {
			if c.Status != metav1.ConditionTrue {
				t.Errorf("%s: condition %s is %s: %s", p.Name, c.Type, c.Status, c.Message)
			}
		}
	}
}

// The chart binds the sync Job policy once per target namespace, to that
// namespace's sync CronJob, and scopes both policies to its own
// ServiceAccount; rbac.admissionPolicy false leaves them out.
func TestChartAdmissionPolicyBindings(t *testing.T) {
	objs := mustRender(t, "bots", nil, map[string]any{
		"serviceAccount": map[string]any{"name": "rotator"},
		"rbac": map[string]any{"targets": []any{
			map[string]any{"namespace": "apps"},
			map[string]any{"namespace": "apps-two", "cronJob": "sync-tokens"},
		}},
	})
	want := map[string][2]string{ // binding: namespace, CronJob
		"bots.signon-token-bot.sync-job.apps":     {"apps", kube.DefaultCronJob},
		"bots.signon-token-bot.sync-job.apps-two": {"apps-two", "sync-tokens"},
	}
	for _, b := range all[*admissionregistrationv1.ValidatingAdmissionPolicyBinding](objs) {
		s := b.Spec
		if !slices.Equal(s.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
			t.Errorf("%s: validationActions %v, want [Deny]", b.Name, s.ValidationActions)
		}
		if b.Name == "bots.signon-token-bot.restart" {
			if s.PolicyName != b.Name || s.ParamRef != nil || s.MatchResources != nil {
				t.Errorf("the restart binding %+v does not bind its policy everywhere", s)
			}
			continue
		}
		w, ok := want[b.Name]
		if !ok {
			t.Errorf("unexpected binding %s", b.Name)
			continue
		}
		delete(want, b.Name)
		p := s.ParamRef
		if s.PolicyName != "bots.signon-token-bot.sync-job" || p == nil || p.Name != w[1] || p.Namespace != w[0] ||
			p.ParameterNotFoundAction == nil || *p.ParameterNotFoundAction != admissionregistrationv1.DenyAction ||
			s.MatchResources == nil || s.MatchResources.NamespaceSelector == nil ||
			s.MatchResources.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != w[0] {
			t.Errorf("%s: %+v, paramRef %+v; want CronJob %s/%s, in that namespace only, denying when it is missing", b.Name, s, p, w[0], w[1])
		}
	}
	if len(want) > 0 {
		t.Errorf("no binding for %v", want)
	}
	for _, p := range all[*admissionregistrationv1.ValidatingAdmissionPolicy](objs) {
		if p.Spec.FailurePolicy == nil || *p.Spec.FailurePolicy != admissionregistrationv1.Fail {
			t.Errorf("%s: failurePolicy %v, want Fail", p.Name, p.Spec.FailurePolicy)
		}
		if mc := p.Spec.MatchConditions; len(mc) != 1 || mc[0].Expression != "request.userInfo.username == 'system:serviceaccount:bots:rotator'" {
			t.Errorf("%s: matchConditions %+v do not pick out the ServiceAccount bots/rotator", p.Name, mc)
		}
	}

	off := mustRender(t, "bots", nil, map[string]any{"rbac": map[string]any{"admissionPolicy": false}})
	for _, k := range off.kinds() {
		if strings.HasPrefix(k, "ValidatingAdmissionPolicy") {
			t.Errorf("rbac.admissionPolicy false renders %s", k)
		}
	}
}
