package kube

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

// The watcher's tests watch ConfigMaps: no controller in the test control
// plane writes them, so every event a test sees is one it caused.

// watchEnv is a namespace, an administrator to change things in it and a
// client (through rc) to watch them with.
type watchEnv struct {
	ns     string
	admin  kubernetes.Interface
	client *Client
}

func newWatchEnv(t *testing.T, rc func(cp *kubetest.ControlPlane, ns string) *rest.Config) *watchEnv {
	t.Helper()
	cp := kubetest.Shared(t)
	e := &watchEnv{ns: cp.Namespace(t), admin: cp.Clientset(t)}
	c, err := NewForConfig(rc(cp, e.ns), Config{Namespace: e.ns})
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

func (e *watchEnv) configMap(t *testing.T, name, app string, data map[string]string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}}, Data: data}
	if _, err := e.admin.CoreV1().ConfigMaps(e.ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *watchEnv) setData(t *testing.T, name string, data map[string]string) {
	t.Helper()
	cms := e.admin.CoreV1().ConfigMaps(e.ns)
	cm, err := cms.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = data
	if _, err := cms.Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *watchEnv) deleteConfigMap(t *testing.T, name string) {
	t.Helper()
	if err := e.admin.CoreV1().ConfigMaps(e.ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// contents maps each ConfigMap in the store to its data.
func contents(s *store) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, o := range s.List() {
		cm := o.(*corev1.ConfigMap)
		out[cm.Name] = cm.Data
	}
	return out
}

// awaitChange waits for the watcher's signal until the store holds want;
// it fails the test if no signal comes within the deadline, or the store
// never holds want.
func awaitChange(t *testing.T, w *watcher, s *store, what string, want map[string]map[string]string) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-w.changed:
			if got := contents(s); maps.EqualFunc(got, want, maps.Equal) {
				return
			}
		case <-deadline.C:
			t.Fatalf("%s: the store holds %v, want %v", what, contents(s), want)
		}
	}
}

// drain empties the change signal, so that the next wait sees only what
// follows.
func drain(w *watcher) {
	select {
	case <-w.changed:
	default:
	}
}

func admin(cp *kubetest.ControlPlane, _ string) *rest.Config { return cp.Config }

// newTappedEnv is a watchEnv whose client reaches the apiserver through
// a tap, over the config rc returns.
func newTappedEnv(t *testing.T, rc func(*kubetest.ControlPlane) *rest.Config) (*watchEnv, *tap, *kubetest.ControlPlane) {
	t.Helper()
	var tp *tap
	var cp *kubetest.ControlPlane
	e := newWatchEnv(t, func(c *kubetest.ControlPlane, _ string) *rest.Config {
		var tapped *rest.Config
		cp = c
		tp, tapped = newTap(t, rc(c))
		return tapped
	})
	return e, tp, cp
}

// Every change to a watched object wakes the wait, and the store follows:
// an add, an update, a delete (the object leaves the store), and an
// object leaving the label selection (the server sends that as a delete).
func TestWatchSignalsEveryChange(t *testing.T) {
	t.Parallel()
	e := newWatchEnv(t, admin)
	e.configMap(t, "a", "w", map[string]string{"v": "1"})
	e.configMap(t, "elsewhere", "other", nil)
	w := e.client.newWatcher(testContext(t))
	defer w.stop()
	s := w.watch(e.client.api.core, "configmaps", e.ns, &corev1.ConfigMap{}, "", "app=w")
	if err := w.sync(); err != nil {
		t.Fatal(err)
	}
	if got, want := contents(s), map[string]map[string]string{"a": {"v": "1"}}; !maps.EqualFunc(got, want, maps.Equal) {
		t.Fatalf("after sync the store holds %v, want %v", got, want)
	}
	if _, ok := s.GetByKey(e.ns + "/a"); !ok {
		t.Errorf("GetByKey(%q) finds nothing", e.ns+"/a")
	}

	drain(w)
	e.configMap(t, "b", "w", map[string]string{"v": "1"})
	awaitChange(t, w, s, "add", map[string]map[string]string{"a": {"v": "1"}, "b": {"v": "1"}})
	e.setData(t, "a", map[string]string{"v": "2"})
	awaitChange(t, w, s, "update", map[string]map[string]string{"a": {"v": "2"}, "b": {"v": "1"}})
	e.deleteConfigMap(t, "a")
	awaitChange(t, w, s, "delete", map[string]map[string]string{"b": {"v": "1"}})
	cm, err := e.admin.CoreV1().ConfigMaps(e.ns).Get(context.Background(), "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Labels["app"] = "moved"
	if _, err := e.admin.CoreV1().ConfigMaps(e.ns).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	awaitChange(t, w, s, "label change", map[string]map[string]string{})
	if _, ok := s.GetByKey(e.ns + "/a"); ok {
		t.Errorf("GetByKey finds the deleted ConfigMap")
	}
}

// When the server ends a watch at the timeoutSeconds the watcher asked
// for, the watcher watches again from the last resourceVersion the
// stream carried (here a BOOKMARK's: the server sends one just before it
// ends the watch), not the list's, and does not list again. Selectors go
// with the list and every watch.
func TestWatchResumesAfterTheServerEndsIt(t *testing.T) {
	t.Parallel()
	e, tp, _ := newTappedEnv(t, func(cp *kubetest.ControlPlane) *rest.Config { return cp.Config })
	e.configMap(t, "in", "w", nil)
	e.configMap(t, "skipped", "w", nil)
	e.configMap(t, "outside", "other", nil)
	w := e.client.newWatcher(testContext(t))
	defer w.stop()
	w.watchTimeout = 3 * time.Second
	const labels, fields = "app=w", "metadata.name!=skipped"
	s := w.watch(e.client.api.core, "configmaps", e.ns, &corev1.ConfigMap{}, fields, labels)
	if err := w.sync(); err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(maps.Keys(contents(s))); !slices.Equal(got, []string{"in"}) {
		t.Fatalf("the store holds %v, want only in", got)
	}
	// A change the watch does not carry still moves the server on, so the
	// BOOKMARK's resourceVersion is later than the list's.
	e.setData(t, "outside", map[string]string{"v": "2"})

	lists, watches := tp.waitFor("second watch", "configmaps", func(_ int, ws []tapCall) bool { return len(ws) >= 2 })
	first, second := watches[0], watches[1]
	if lists != 1 {
		t.Errorf("%d lists before the second watch, want 1: the watcher listed again after a watch the server ended in good order", lists)
	}
	if first.err != nil || !first.ended {
		t.Errorf("first watch: err %v, ended %v; want it ended by the server", first.err, first.ended)
	}
	var last tapEvent
	bookmarks := 0
	for _, ev := range first.events {
		if ev.typ == "BOOKMARK" {
			bookmarks++
		}
		last = ev
	}
	if bookmarks == 0 || last.typ != "BOOKMARK" {
		t.Fatalf("the first watch carried %+v; want a BOOKMARK last (the server sends one 2 s before the timeout)", first.events)
	}
	if second.query["resourceVersion"] != last.rv || last.rv == first.query["resourceVersion"] {
		t.Errorf("the second watch went on from resourceVersion %q; want the BOOKMARK's %q (the first watch began at %q)",
			second.query["resourceVersion"], last.rv, first.query["resourceVersion"])
	}
	for i, c := range watches {
		secs, _ := strconv.Atoi(c.query["timeoutSeconds"])
		if c.query["allowWatchBookmarks"] != "true" || c.query["labelSelector"] != labels || c.query["fieldSelector"] != fields || secs < 3 || secs > 6 {
			t.Errorf("watch %d asked %v; want bookmarks allowed, both selectors, and a timeout of 3 to 6 s", i, c.query)
		}
	}

	drain(w)
	e.configMap(t, "in-2", "w", nil)
	e.configMap(t, "skipped-2", "other", nil)
	awaitChange(t, w, s, "add after the resumed watch", map[string]map[string]string{"in": nil, "in-2": nil})
	if lists, _ := tp.snapshot("configmaps"); lists != 1 {
		t.Errorf("%d lists in all, want 1", lists)
	}
}

// A watch from a resourceVersion whose history etcd has compacted away
// gets the apiserver's ERROR event (410, Expired): the watcher lists
// again, and its store then holds exactly what exists, including changes
// no watch carried. Events are the one kind the apiserver does not cache,
// so their watches read etcd's history, which the test compacts as the
// apiserver's compactor does every five minutes; the cached kinds the bot
// watches meet the same 410 once their watch cache has moved past the
// bot's resourceVersion.
func TestWatchListsAgainWhenItsResourceVersionExpired(t *testing.T) {
	t.Parallel()
	e, tp, cp := newTappedEnv(t, func(cp *kubetest.ControlPlane) *rest.Config { return cp.Config })
	ctx := testContext(t)
	events := e.admin.CoreV1().Events(e.ns)
	event := func(name string) {
		t.Helper()
		ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "w"}},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: e.ns, Name: "p"}, Reason: "Test", Message: name}
		if _, err := events.Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(s *store) []string {
		var out []string
		for _, o := range s.List() {
			out = append(out, o.(*corev1.Event).Name)
		}
		return out
	}
	event("stays")
	event("goes")
	w := e.client.newWatcher(ctx)
	defer w.stop()
	w.watchTimeout = 3 * time.Second
	s := w.watch(e.client.api.core, "events", e.ns, &corev1.Event{}, "", "app=w")
	if err := w.sync(); err != nil {
		t.Fatal(err)
	}

	// Hold the next watch, so that no watch is open while things change.
	held, release := tp.holdNextWatch()
	var call *tapCall
	select {
	case call = <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the watcher did not watch again after the server ended its watch")
	}
	if err := events.Delete(ctx, "goes", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	event("new")
	rev, err := cp.CompactEtcd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if from, _ := strconv.ParseInt(call.query["resourceVersion"], 10, 64); from >= rev {
		t.Fatalf("the held watch goes on from %d, not older than the compaction at %d", from, rev)
	}
	drain(w)
	close(release)

	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for want := []string{"new", "stays"}; !slices.Equal(names(s), want); {
		select {
		case <-w.changed:
		case <-deadline.C:
			t.Fatalf("after the resourceVersion expired the store holds %v, want %v", names(s), want)
		}
	}
	lists, watches := tp.snapshot("events")
	if lists != 2 {
		t.Errorf("%d lists, want 2 (the first, and one after the 410)", lists)
	}
	var gone bool
	for _, c := range watches {
		for _, ev := range c.events {
			gone = gone || ev.typ == "ERROR" && ev.code == "410" && ev.reason == "Expired"
		}
	}
	if !gone {
		t.Errorf("the server sent no ERROR event with 410 Expired; watches: %+v", watches)
	}
}

// A watch that cannot start (the apiserver unreachable) is tried again
// with a back-off, from the same resourceVersion, and once the apiserver
// is back the watcher sees what changed meanwhile without listing again.
func TestWatchRetriesAWatchThatFailsToStart(t *testing.T) {
	t.Parallel()
	var link *kubetest.Link
	e, tp, _ := newTappedEnv(t, func(cp *kubetest.ControlPlane) *rest.Config {
		link = kubetest.NewLink(t, cp.Config.Host)
		rc := rest.CopyConfig(cp.Config)
		rc.Host = "https://" + link.Addr()
		return rc
	})
	e.configMap(t, "before", "w", nil)
	w := e.client.newWatcher(testContext(t))
	defer w.stop()
	s := w.watch(e.client.api.core, "configmaps", e.ns, &corev1.ConfigMap{}, "", "app=w")
	if err := w.sync(); err != nil {
		t.Fatal(err)
	}
	tp.waitFor("first watch", "configmaps", func(_ int, ws []tapCall) bool { return len(ws) == 1 })

	link.Cut()
	_, watches := tp.waitFor("two failed watches", "configmaps", func(_ int, ws []tapCall) bool {
		return len(ws) >= 3 && ws[len(ws)-1].err != nil && ws[len(ws)-2].err != nil
	})
	rv := watches[0].query["resourceVersion"]
	for i, c := range watches[1:] {
		if c.query["resourceVersion"] != rv {
			t.Errorf("retry %d watched from %q, want %q", i+1, c.query["resourceVersion"], rv)
		}
	}
	e.configMap(t, "meanwhile", "w", nil)
	drain(w)
	link.Mend()
	awaitChange(t, w, s, "after the apiserver came back", map[string]map[string]string{"before": nil, "meanwhile": nil})
	if lists, _ := tp.snapshot("configmaps"); lists != 1 {
		t.Errorf("%d lists, want 1: a failed watch start is retried, not turned into a list", lists)
	}
}

// A list or a watch the user may not make is reported by sync at once.
func TestWatchRefusalIsReportedBySync(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		verbs []string
		want  string
	}{
		{nil, "list configmaps"},
		{[]string{"list"}, "watch configmaps"},
	} {
		t.Run(strings.Join(append([]string{"verbs"}, tc.verbs...), "-"), func(t *testing.T) {
			t.Parallel()
			e := newWatchEnv(t, func(cp *kubetest.ControlPlane, ns string) *rest.Config {
				role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "watch-test"}}
				if tc.verbs != nil {
					role.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: tc.verbs}}
				}
				return cp.ConfigForRole(t, ns, role)
			})
			ctx := testContext(t)
			w := e.client.newWatcher(ctx)
			defer w.stop()
			w.watch(e.client.api.core, "configmaps", e.ns, &corev1.ConfigMap{}, "", "")
			done := make(chan error, 1)
			go func() { done <- w.sync() }()
			select {
			case err := <-done:
				if !errors.Is(err, flows.ErrForbidden) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("sync: %v; want ErrForbidden naming %q", err, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("sync did not return the refusal within 20 s: the watcher keeps retrying it")
			}
		})
	}
}
