package blocks

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/alphagov/signon-token-bot/flows"
)

// Links are the places a run's status message points to beside Slack:
// the runbook, and URL templates for Argo CD and dashboards.
type Links struct {
	Runbook    string
	ArgoCD     string
	Dashboards []NamedURL
	// Namespaces are each environment's namespace, for {namespace}.
	Namespaces map[string]string
}

// NamedURL is a labelled URL template.
type NamedURL struct {
	Name string
	URL  string
}

// placeholder is one {name} in a URL template.
var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// Placeholders are the values a URL template may use: the environment,
// each consumer workload of the run's Secret (one link each), the
// environment's namespace and the run's sync Job.
var Placeholders = []string{"{env}", "{app}", "{namespace}", "{job}"}

// CheckURLTemplate says what is wrong with a URL template, if anything:
// it must be an https URL with a host, and use only Placeholders.
func CheckURLTemplate(t string) error {
	for _, p := range placeholder.FindAllString(t, -1) {
		if !slices.Contains(Placeholders, p) {
			return fmt.Errorf("unknown placeholder %s (known: %s)", p, strings.Join(Placeholders, ", "))
		}
	}
	u, err := url.Parse(placeholder.ReplaceAllString(t, "x"))
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(t, "|<> \n\t") {
		return errors.New("not an https URL")
	}
	return nil
}

// expand fills a template's placeholders, each value escaped for a URL
// path or query; ok is false when the template needs a value the run
// does not have yet.
func expand(t string, values map[string]string) (string, bool) {
	ok := true
	out := placeholder.ReplaceAllStringFunc(t, func(p string) string {
		v := values[p]
		if v == "" {
			ok = false
		}
		return url.PathEscape(v)
	})
	return out, ok
}

// linkLine is the status message's line of links for a run, "" if none.
func (r Renderer) linkLine(run *flows.Run) string {
	l := r.Links
	values := map[string]string{"{env}": run.Key.Environment, "{namespace}": l.Namespaces[run.Key.Environment]}
	if run.SyncJob != nil {
		values["{job}"] = run.SyncJob.Name
	}
	var apps []string
	for _, c := range run.Consumers {
		if !slices.Contains(apps, c.Name) {
			apps = append(apps, c.Name)
		}
	}
	var parts []string
	if link := LinkTo(l.Runbook, "Runbook"); link != "" {
		parts = append(parts, ":orange_book: "+link)
	}
	add := func(t, label string) {
		if t == "" {
			return
		}
		if !strings.Contains(t, "{app}") {
			if u, ok := expand(t, values); ok {
				parts = append(parts, LinkTo(u, label))
			}
			return
		}
		for _, app := range apps {
			values["{app}"] = app
			if u, ok := expand(t, values); ok {
				parts = append(parts, LinkTo(u, label+": "+app))
			}
		}
	}
	add(l.ArgoCD, "Argo CD")
	for _, d := range l.Dashboards {
		add(d.URL, d.Name)
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " · ")
}
