package deploytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/alphagov/signon-token-bot/integrations/kube/rbaccheck"
)

// EnvHelm names the helm binary, which `make test` builds
// (scripts/build-helm.sh).
const EnvHelm = "SIGNON_BOT_HELM"

const (
	chartDir = repoRoot + "/deploy"
	release  = "signon-token-bot"
)

func helmBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(EnvHelm)
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI: run `make test`", EnvHelm)
		}
		t.Skipf("%s is not set; run `make test` to render the chart with helm", EnvHelm)
	}
	return bin
}

// object is one rendered manifest, decoded.
type object struct {
	source string
	gvk    schema.GroupVersionKind
	json   []byte
	// typed is the client-go type, nil for kinds client-go's scheme does
	// not know (the ServiceMonitor).
	typed runtime.Object
	name  string
	ns    string
}

// rendered is a chart rendered with some values.
type rendered []object

// render runs `helm template` with the values files (under testdata) and
// then the overrides, in namespace ns. An error carries helm's message.
func render(t *testing.T, ns string, files []string, overrides map[string]any) (rendered, error) {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", ns}
	for _, f := range files {
		args = append(args, "--values", filepath.Join("testdata", f))
	}
	if overrides != nil {
		b, err := json.Marshal(overrides)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "overrides.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", path)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helmBin(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm template: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return decodeAll(t, stdout.Bytes()), nil
}

func mustRender(t *testing.T, ns string, files []string, overrides map[string]any) rendered {
	t.Helper()
	objs, err := render(t, ns, files, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// strict decodes with client-go's scheme and fails on unknown or
// duplicate fields.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) the chart renders, to decode it strictly
// without the operator's module.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func decodeAll(t *testing.T, out []byte) rendered {
	t.Helper()
	var objs rendered
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		if string(j) == "null" {
			continue
		}
		o := object{json: j}
		if i := bytes.Index(doc, []byte("# Source: ")); i >= 0 {
			o.source = strings.TrimSpace(string(doc[i+len("# Source: "):][:bytes.IndexByte(doc[i+len("# Source: "):], '\n')]))
		}
		typed, gvk, err := strict.Decode(j, nil, nil)
		switch {
		case err == nil:
			o.typed, o.gvk = typed, *gvk
		case runtime.IsNotRegisteredError(err):
			var sm serviceMonitor
			if err := yaml.UnmarshalStrict(j, &sm); err != nil || sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" {
				t.Fatalf("%s: a kind client-go does not know, and not a ServiceMonitor as the chart writes it: %v", o.source, err)
			}
			o.gvk = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}
		default:
			t.Fatalf("%s does not decode strictly: %v\n%s", o.source, err, doc)
		}
		var meta struct {
			Metadata struct{ Name, Namespace string } `json:"metadata"`
		}
		if err := json.Unmarshal(j, &meta); err != nil {
			t.Fatal(err)
		}
		o.name, o.ns = meta.Metadata.Name, meta.Metadata.Namespace
		objs = append(objs, o)
	}
	return objs
}

// kinds lists the objects as Kind/namespace/name.
func (r rendered) kinds() []string {
	var out []string
	for _, o := range r {
		out = append(out, o.gvk.Kind+"/"+o.ns+"/"+o.name)
	}
	slices.Sort(out)
	return out
}

// only returns the one object of kind, failing if there is not one.
func only[T runtime.Object](t *testing.T, r rendered) T {
	t.Helper()
	var found []T
	for _, o := range r {
		if v, ok := o.typed.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T, rendered %v", zero, r.kinds())
	}
	return found[0]
}

func all[T runtime.Object](r rendered) []T {
	var found []T
	for _, o := range r {
		if v, ok := o.typed.(T); ok {
			found = append(found, v)
		}
	}
	return found
}

func (r rendered) serviceMonitor(t *testing.T) *serviceMonitor {
	t.Helper()
	for _, o := range r {
		if o.gvk.Kind == "ServiceMonitor" {
			var sm serviceMonitor
			if err := json.Unmarshal(o.json, &sm); err != nil {
				t.Fatal(err)
			}
			return &sm
		}
	}
	return nil
}

// shippedRules are deploy/rbac/role.yaml's, with the sync CronJob's name
// where the file names GOV.UK's.
func shippedRules(t *testing.T, cronJob string) []rbacv1.PolicyRule {
	t.Helper()
	rules := rbaccheck.ReadRole(t, filepath.Join(chartDir, "rbac", "role.yaml")).Rules
	for i := range rules {
		if slices.Contains(rules[i].Resources, "cronjobs/finalizers") {
			rules[i].ResourceNames = []string{cronJob}
		}
	}
	return rules
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// The chart's defaults install the bot hardened and least-privileged: two
// replicas with probes, a pod that runs as non-root on a read-only root
// file system with no capabilities, the Slack tokens only as references to
// a Secret, and the shipped Role bound to the chart's ServiceAccount in
// apps.
func TestChartDefaults(t *testing.T) {
	objs := mustRender(t, "signon-token-bot", nil, nil)
	want := []string{
		"Deployment/signon-token-bot/signon-token-bot",
		"PodDisruptionBudget/signon-token-bot/signon-token-bot",
		"Role/apps/signon-token-bot",
		"RoleBinding/apps/signon-token-bot",
		"Service/signon-token-bot/signon-token-bot",
		"ServiceAccount/signon-token-bot/signon-token-bot",
		"ValidatingAdmissionPolicy//signon-token-bot.signon-token-bot.restart",
		"ValidatingAdmissionPolicy//signon-token-bot.signon-token-bot.sync-job",
		"ValidatingAdmissionPolicyBinding//signon-token-bot.signon-token-bot.restart",
		"ValidatingAdmissionPolicyBinding//signon-token-bot.signon-token-bot.sync-job.apps",
	}
	if got := objs.kinds(); !slices.Equal(got, want) {
		t.Fatalf("rendered %v, want %v", got, want)
	}

	d := only[*appsv1.Deployment](t, objs)
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %d, want 2", *d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("containers = %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("no security context")
	}
	for what, ok := range map[string]bool{
		"runAsNonRoot":                 psc.RunAsNonRoot != nil && *psc.RunAsNonRoot,
		"a numeric non-root user":      psc.RunAsUser != nil && *psc.RunAsUser == 65532,
		"seccomp RuntimeDefault":       psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"no privilege escalation":      csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation,
		"a read-only root file system": csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem,
		"every capability dropped":     csc.Capabilities != nil && slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(csc.Capabilities.Add) == 0,
		"the chart's ServiceAccount":   pod.ServiceAccountName == release,
		"a memory limit":               !c.Resources.Limits.Memory().IsZero(),
		"requests":                     !c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero(),
	} {
		if !ok {
			t.Errorf("the pod lacks %s", what)
		}
	}
	port := c.Ports[0]
	if port.Name != "http" || port.ContainerPort != 8080 || envOf(c)["HTTP_ADDR"].Value != ":8080" {
		t.Errorf("port %+v and HTTP_ADDR %q disagree", port, envOf(c)["HTTP_ADDR"].Value)
	}
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "http" {
			t.Errorf("probe %+v, want GET %s on port http", probe, path)
		}
	}
	env := envOf(c)
	for name, key := range map[string]string{"SLACK_APP_TOKEN": "app-token", "SLACK_BOT_TOKEN": "bot-token"} {
		ref := env[name].ValueFrom
		if env[name].Value != "" || ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "signon-token-bot-slack" || ref.SecretKeyRef.Key != key {
			t.Errorf("%s = %+v, want a reference to key %s of Secret signon-token-bot-slack", name, env[name], key)
		}
	}
	if env["REDIS_URL"].Value != "redis://redis:6379/0" || env["GOMEMLIMIT"].ValueFrom == nil {
		t.Errorf("REDIS_URL %+v, GOMEMLIMIT %+v", env["REDIS_URL"], env["GOMEMLIMIT"])
	}
	if _, ok := env["CONFIG_FILE"]; ok {
		t.Error("CONFIG_FILE is set with no config: the bot should use its defaults")
	}
	if ref := env["POD_NAME"].ValueFrom; ref == nil || ref.FieldRef == nil || ref.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("POD_NAME = %+v, want the pod's name from the downward API (the replica's stable lease owner)", env["POD_NAME"])
	}
	podLabels := d.Spec.Template.Labels
	for what, sel := range map[string]map[string]string{
		"Deployment":          d.Spec.Selector.MatchLabels,
		"Service":             only[*corev1.Service](t, objs).Spec.Selector,
		"PodDisruptionBudget": only[*policyv1.PodDisruptionBudget](t, objs).Spec.Selector.MatchLabels,
	} {
		for k, v := range sel {
			if podLabels[k] != v {
				t.Errorf("the %s selects %s=%s, which the pods do not carry (%v)", what, k, v, podLabels)
			}
		}
	}
	if pdb := only[*policyv1.PodDisruptionBudget](t, objs); pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB maxUnavailable = %v, want 1", pdb.Spec.MaxUnavailable)
	}

	role := only[*rbacv1.Role](t, objs)
	if !reflect.DeepEqual(role.Rules, shippedRules(t, "signon-sync-token-secrets-to-k8s")) {
		t.Errorf("the chart's Role rules differ from deploy/rbac/role.yaml:\n%+v", role.Rules)
	}
	rb := only[*rbacv1.RoleBinding](t, objs)
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name || len(rb.Subjects) != 1 ||
		rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != release || rb.Subjects[0].Namespace != "signon-token-bot" {
		t.Errorf("RoleBinding %+v does not bind the chart's ServiceAccount to its Role", rb)
	}
	if sa := only[*corev1.ServiceAccount](t, objs); sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the ServiceAccount mounts its token into every pod; only the bot's pod should, and it says so itself")
	}
}

// The values files for Sentinel, Cluster and an RBAC-only install render
// what they say.
func TestChartValuesFiles(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		objs := mustRender(t, "bots", []string{"sentinel.yaml"}, nil)
		d := only[*appsv1.Deployment](t, objs)
		c := d.Spec.Template.Spec.Containers[0]
		env := envOf(c)
		if env["REDIS_ADDRS"].Value != "redis-sentinel-0.redis:26379,redis-sentinel-1.redis:26379,redis-sentinel-2.redis:26379" ||
			env["REDIS_MASTER_NAME"].Value != "signon-token-bot" {
			t.Errorf("Sentinel env: %+v %+v", env["REDIS_ADDRS"], env["REDIS_MASTER_NAME"])
		}
		if _, ok := env["REDIS_URL"]; ok {
			t.Error("REDIS_URL is set beside Sentinel; the bot refuses both")
		}
		if ref := env["REDIS_PASSWORD"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "signon-token-bot-redis" || ref.SecretKeyRef.Key != "password" {
			t.Errorf("REDIS_PASSWORD = %+v", env["REDIS_PASSWORD"])
		}
		if !strings.HasSuffix(c.Image, "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") {
			t.Errorf("image %s is not pulled by digest", c.Image)
		}
		cm := only[*corev1.ConfigMap](t, objs)
		var cfg map[string]any
		if err := yaml.UnmarshalStrict([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
			t.Fatalf("config.yaml: %v", err)
		}
		if envs, _ := cfg["environments"].(map[string]any); len(envs) != 3 {
			t.Errorf("config.yaml environments = %v", cfg["environments"])
		}
		if env["CONFIG_FILE"].Value != "/etc/signon-token-bot/config/config.yaml" {
			t.Errorf("CONFIG_FILE = %q", env["CONFIG_FILE"].Value)
		}
		mounts := map[string]string{}
		for _, m := range c.VolumeMounts {
			mounts[m.Name] = m.MountPath
			if !m.ReadOnly {
				t.Errorf("volume %s is mounted writable", m.Name)
			}
		}
		if mounts["config"] != "/etc/signon-token-bot/config" || mounts["kubeconfig"] != "/etc/signon-token-bot/kubeconfig" {
			t.Errorf("mounts = %v", mounts)
		}
		sm := objs.serviceMonitor(t)
		svc := only[*corev1.Service](t, objs)
		if sm == nil {
			t.Fatal("no ServiceMonitor")
		}
		for k, v := range sm.Spec.Selector.MatchLabels {
			if svc.Labels[k] != v {
				t.Errorf("the ServiceMonitor selects %s=%s, which the Service lacks", k, v)
			}
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v do not scrape the Service's port %s at /metrics", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
		}
		if sm.Metadata.Labels["release"] != "prometheus" || !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"bots"}) {
			t.Errorf("ServiceMonitor labels %v, namespaces %v", sm.Metadata.Labels, sm.Spec.NamespaceSelector.MatchNames)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		objs := mustRender(t, "bots", []string{"cluster.yaml"}, nil)
		env := envOf(only[*appsv1.Deployment](t, objs).Spec.Template.Spec.Containers[0])
		if env["REDIS_ADDRS"].Value != "redis-0.redis:6379,redis-1.redis:6379,redis-2.redis:6379" || env["REDIS_CLUSTER"].Value != "true" {
			t.Errorf("Cluster env: %+v %+v", env["REDIS_ADDRS"], env["REDIS_CLUSTER"])
		}
		if ref := env["REDIS_USERNAME"].ValueFrom; ref == nil || ref.SecretKeyRef.Key != "username" {
			t.Errorf("REDIS_USERNAME = %+v", env["REDIS_USERNAME"])
		}
		if role := only[*rbacv1.Role](t, objs); !reflect.DeepEqual(role.Rules, shippedRules(t, "sync-tokens")) {
			t.Errorf("with cronJob sync-tokens the Role's rules are %+v", role.Rules)
		}
		if objs.serviceMonitor(t) == nil {
			t.Error("no ServiceMonitor")
		}
	})
	t.Run("rbac-only", func(t *testing.T) {
		objs := mustRender(t, "bots", []string{"rbac-only.yaml"}, nil)
		want := []string{"Role/apps/signon-token-bot", "RoleBinding/apps/signon-token-bot", "Secret/bots/signon-token-bot-token", "ServiceAccount/bots/signon-token-bot",
			"ValidatingAdmissionPolicy//bots.signon-token-bot.restart", "ValidatingAdmissionPolicy//bots.signon-token-bot.sync-job",
			"ValidatingAdmissionPolicyBinding//bots.signon-token-bot.restart", "ValidatingAdmissionPolicyBinding//bots.signon-token-bot.sync-job.apps"}
		if got := objs.kinds(); !slices.Equal(got, want) {
			t.Fatalf("rendered %v, want %v", got, want)
		}
		s := only[*corev1.Secret](t, objs)
		if s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] != release || len(s.Data)+len(s.StringData) > 0 {
			t.Errorf("token Secret %+v is not an empty service-account-token for %s", s, release)
		}
	})
}

// Values the bot could not run with stop the render, and the message
// names the value.
func TestChartRejectsBadValues(t *testing.T) {
	for _, c := range []struct {
		name      string
		overrides map[string]any
		want      string
	}{
		{"unknown key", map[string]any{"replicas": 3}, "replicas"},
		{"redis mode", map[string]any{"redis": map[string]any{"mode": "sentinal"}}, "/redis/mode"},
		{"sentinel without addrs", map[string]any{"redis": map[string]any{"mode": "sentinel", "sentinel": map[string]any{"masterName": "m"}}}, "redis.sentinel.addrs"},
		{"cluster without addrs", map[string]any{"redis": map[string]any{"mode": "cluster"}}, "redis.cluster.addrs"},
		{"standalone without url", map[string]any{"redis": map[string]any{"url": ""}}, "redis.url"},
		{"standalone with cluster addrs", map[string]any{"redis": map[string]any{"cluster": map[string]any{"addrs": []string{"r:6379"}}}}, "redis.mode"},
		{"redis url not a URL", map[string]any{"redis": map[string]any{"url": "redis-host:6379"}}, "/redis/url"},
		{"auth keys without a Secret", map[string]any{"redis": map[string]any{"auth": map[string]any{"passwordKey": "password"}}}, "redis.auth.existingSecret"},
		{"no Slack Secret", map[string]any{"slack": map[string]any{"existingSecret": ""}}, "slack.existingSecret"},
		{"bad namespace", map[string]any{"rbac": map[string]any{"targets": []any{map[string]any{"namespace": "Apps"}}}}, "/rbac/targets/0/namespace"},
		{"in-cluster environment without a Role", map[string]any{"config": map[string]any{"environments": map[string]any{"production": map[string]any{"namespace": "other"}}}}, "config.environments.production"},
		{"kubeconfig without its Secret", map[string]any{"config": map[string]any{"environments": map[string]any{"integration": map[string]any{"kubeconfig": "/etc/signon-token-bot/kubeconfig/config", "context": "integration"}}}}, "kubeconfig.existingSecret"},
		{"digest", map[string]any{"image": map[string]any{"digest": "latest"}}, "/image/digest"},
		{"log level", map[string]any{"logLevel": "verbose"}, "/logLevel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(t, "bots", nil, c.overrides)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("render = %v, want an error naming %s", err, c.want)
			}
		})
	}
}
