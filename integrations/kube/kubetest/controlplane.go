// Package kubetest runs a real Kubernetes control plane for tests: etcd,
// kube-apiserver and kube-controller-manager (the Job, CronJob, Deployment,
// ReplicaSet, garbage-collector and ValidatingAdmissionPolicy status
// controllers) on loopback, plus a test kubelet that runs pods' exec
// commands as local processes, and helpers that play the parts no test
// can run: the Signon sync task and Stakater Reloader.
//
// The binaries come from SIGNON_BOT_CONTROLPLANE, which `make test` sets.
// One control plane serves a whole test binary; each test gets its own
// namespace and kubelet:
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		cp := kubetest.Shared(t)
//		ns := cp.Namespace(t)
//		kl := &kubetest.Kubelet{}
//		kl.Start(t, cp.Config, ns)
//		...
//	}
package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// EnvControlPlane names the directory holding etcd, kube-apiserver and
// kube-controller-manager.
const EnvControlPlane = "SIGNON_BOT_CONTROLPLANE"

// The controllers a test can rely on. No scheduler runs: the test kubelet
// binds pods itself. The ValidatingAdmissionPolicy status controller
// type-checks policies' expressions, as it does in a real cluster.
const controllers = "job-controller,cronjob-controller,garbage-collector-controller,deployment-controller,replicaset-controller,validatingadmissionpolicy-status-controller"

// ControlPlane is a running etcd, kube-apiserver and
// kube-controller-manager.
type ControlPlane struct {
	// Config authenticates as an administrator (group system:masters).
	// Copy it (rest.CopyConfig) before changing it.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for Config, with one
	// context named "kubetest".
	Kubeconfig string
	// StartupTime is how long the control plane took to become ready.
	StartupTime time.Duration

	dir     string
	etcdURL string
	ca      *authority
	procs   []*process
}

// Start starts a control plane from the binaries in dir, with everything
// in a new temporary directory, and waits until the apiserver is ready and
// the controller manager healthy. Stop it with Stop.
func Start(ctx context.Context, binDir string) (_ *ControlPlane, err error) {
	began := time.Now()
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, fmt.Errorf("make control plane dir: %w", err)
	}
	cp := &ControlPlane{dir: dir}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort, cmPort := ports[0], ports[1], ports[2], ports[3]

	cp.ca, err = newAuthority()
	if err != nil {
		return nil, err
	}
	adminToken := randomHex(16)
	files := map[string][]byte{
		"ca.crt":     cp.ca.certPEM,
		"tokens.csv": []byte(adminToken + `,kubetest-admin,kubetest-admin,"system:masters"` + "\n"),
	}
	files["apiserver.crt"], files["apiserver.key"], err = cp.ca.issue("kube-apiserver", nil, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	saKey := filepath.Join(dir, "sa.key")
	if err := serviceAccountKey(saKey); err != nil {
		return nil, err
	}

	etcdURL := "http://" + hostPort(etcdClient)
	cp.etcdURL = etcdURL
	peerURL := "http://" + hostPort(etcdPeer)
	etcd, err := cp.start(filepath.Join(binDir, "etcd"),
		"--name=kubetest",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}
	// etcd and the apiserver start together: the apiserver retries etcd.
	apiserver, err := cp.start(filepath.Join(binDir, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+filepath.Join(dir, "apiserver.crt"),
		"--tls-private-key-file="+filepath.Join(dir, "apiserver.key"),
		"--client-ca-file="+filepath.Join(dir, "ca.crt"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--service-account-key-file="+saKey,
		"--service-account-signing-key-file="+saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.0.0.0/24",
		// The endpoint reconciler refuses a loopback address, and nothing
		// here reaches the apiserver through its Service.
		"--endpoint-reconciler-type=none",
		// No service-account controller runs to make the default
		// ServiceAccount that admission would insist on.
		"--disable-admission-plugins=ServiceAccount",
		// Creating a Job with a blocking owner reference then needs the
		// permission a strict cluster asks for, so the RBAC test covers it.
		"--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
		"--authorization-mode=Node,RBAC",
	)
	if err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := etcd.waitHealthy(waitCtx, insecureClient(), etcdURL+"/health", "", `"health":"true"`); err != nil {
		return nil, err
	}
	host := "https://" + hostPort(apiPort)
	cp.Config = &rest.Config{
		Host:            host,
		BearerToken:     adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.ca.certPEM},
		QPS:             100,
		Burst:           200,
	}
	apiClient, err := rest.HTTPClientFor(cp.Config)
	if err != nil {
		return nil, fmt.Errorf("apiserver client: %w", err)
	}
	if err := apiserver.waitHealthy(waitCtx, apiClient, host+"/readyz", adminToken, "ok"); err != nil {
		return nil, err
	}
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(cp.Kubeconfig, cp.Config); err != nil {
		return nil, err
	}
	cm, err := cp.start(filepath.Join(binDir, "kube-controller-manager"),
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig,
		"--authorization-kubeconfig="+cp.Kubeconfig,
		"--controllers="+controllers,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", cmPort),
		"--cert-dir="+filepath.Join(dir, "controller-manager-certs"),
	)
	if err != nil {
		return nil, err
	}
	if err := cm.waitHealthy(waitCtx, insecureClient(), "https://"+hostPort(cmPort)+"/healthz", "", "ok"); err != nil {
		return nil, err
	}
	cp.StartupTime = time.Since(began)
	return cp, nil
}

func (cp *ControlPlane) start(bin string, args ...string) (*process, error) {
	p, err := startProcess(cp.dir, bin, args...)
	if err != nil {
		return nil, err
	}
	cp.procs = append(cp.procs, p)
	return p, nil
}

// Stop stops the servers, last started first, and removes their files.
func (cp *ControlPlane) Stop() {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cp.procs[i].stop()
	}
	cp.procs = nil
	if cp.dir != "" {
		_ = os.RemoveAll(cp.dir)
	}
}

// Clientset returns an administrator's clientset.
func (cp *ControlPlane) Clientset(tb testing.TB) kubernetes.Interface {
	tb.Helper()
	cs, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		tb.Fatalf("kubetest: clientset: %v", err)
	}
	return cs
}

// Namespace creates a namespace named after the test, with a random
// suffix, so tests sharing the control plane do not meet. No namespace
// controller runs, so it is left behind; the control plane is thrown away
// at the end.
func (cp *ControlPlane) Namespace(tb testing.TB) string {
	tb.Helper()
	name := dns1123(tb.Name(), 50) + "-" + randomHex(3)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cp.Clientset(tb).CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("kubetest: create namespace %s: %v", name, err)
	}
	return name
}

// UserConfig returns a config that authenticates with a client
// certificate as user, in groups. Such a user may do nothing until RBAC
// grants it something.
func (cp *ControlPlane) UserConfig(user string, groups ...string) (*rest.Config, error) {
	certPEM, keyPEM, err := cp.ca.issue(user, groups, nil)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host: cp.Config.Host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   cp.ca.certPEM,
			CertData: certPEM,
			KeyData:  keyPEM,
		},
		QPS:   100,
		Burst: 200,
	}, nil
}

// ConfigForRole creates role in namespace, binds a new user to it and to
// nothing else, and returns a config that authenticates as that user.
func (cp *ControlPlane) ConfigForRole(tb testing.TB, namespace string, role *rbacv1.Role) *rest.Config {
	tb.Helper()
	ctx := context.Background()
	cs := cp.Clientset(tb)
	role = role.DeepCopy()
	role.Namespace = namespace
	role.ResourceVersion = ""
	created, err := cs.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("kubetest: create role %s/%s: %v", namespace, role.Name, err)
	}
	user := "kubetest-user-" + randomHex(4)
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: created.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if _, err := cs.RbacV1().RoleBindings(namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("kubetest: bind %s to role %s: %v", user, created.Name, err)
	}
	cfg, err := cp.UserConfig(user)
	if err != nil {
		tb.Fatalf("kubetest: %v", err)
	}
	return cfg
}

func writeKubeconfig(path string, c *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	kc.AuthInfos["kubetest"] = &clientcmdapi.AuthInfo{Token: c.BearerToken}
	kc.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "kubetest"}
	kc.CurrentContext = "kubetest"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

var shared struct {
	once sync.Once
	cp   *ControlPlane
	err  error
}

// Shared returns the test binary's control plane, starting it on first
// use. Without SIGNON_BOT_CONTROLPLANE the test is skipped, or fails when
// CI=true. Stop it at the end with Main (or StopShared in a TestMain).
func Shared(tb testing.TB) *ControlPlane {
	tb.Helper()
	bin := os.Getenv(EnvControlPlane)
	if bin == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("kubetest: %s is not set under CI: run `make test`", EnvControlPlane)
		}
		tb.Skipf("kubetest: %s is not set; run `make test` to run this test against a real apiserver", EnvControlPlane)
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.cp, shared.err = Start(ctx, bin)
		if shared.err == nil {
			tb.Logf("kubetest: control plane started in %s", shared.cp.StartupTime.Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		tb.Fatalf("kubetest: start control plane: %v", shared.err)
	}
	return shared.cp
}

// StopShared stops the shared control plane if it was started.
func StopShared() {
	if shared.cp != nil {
		shared.cp.Stop()
	}
}

// Main runs the tests, then stops the shared control plane.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// dns1123 turns a test name into a DNS label of at most n characters.
func dns1123(s string, n int) string {
	s = strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > n {
		s = strings.TrimRight(s[:n], "-")
	}
	if s == "" {
		s = "test"
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("kubetest: read random: %v", err))
	}
	return hex.EncodeToString(b)
}
