package bot

import (
	"fmt"

	"github.com/alphagov/signon-token-bot/commands/blocks"
)

// Gates is how the bot calls people to its questions (the `gates` key).
type Gates struct {
	// ReminderPercent is how far through its time open a confirmation
	// gets one reminder in its thread; 0 sends none.
	ReminderPercent int `json:"reminderPercent"`
	// Ping is, per environment, whom a confirmation mentions when it
	// opens and in its reminder; an environment not named pings its
	// approvers.
	Ping map[string]Ping `json:"ping"`
}

// Ping names the people a confirmation mentions, or None.
type Ping struct {
	Users  []string `json:"users"`
	Groups []string `json:"groups"`
	// None mentions nobody.
	None bool `json:"none"`
}

// Links is where a run's status message links to (the `links` key).
type Links struct {
	// Runbook is the runbook's address; "" links none.
	Runbook string `json:"runbook"`
	// ArgoCD and each dashboard's url are URL templates (blocks.Placeholders).
	ArgoCD     string      `json:"argoCD"`
	Dashboards []Dashboard `json:"dashboards"`
}

// Dashboard is a named URL template.
type Dashboard struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// pinged is whom env's confirmations mention: its gates.ping entry, else
// its approvers.
func (c *Config) pinged(env string) Principals {
	p, ok := c.Gates.Ping[env]
	switch {
	case !ok:
		return c.Environments[env].Approvers
	case p.None:
		return Principals{}
	}
	return Principals{Users: p.Users, Groups: p.Groups}
}

// renderLinks is the links for the renderer, with each environment's
// namespace.
func (c *Config) renderLinks() blocks.Links {
	l := blocks.Links{Runbook: c.Links.Runbook, ArgoCD: c.Links.ArgoCD, Namespaces: map[string]string{}}
	for _, d := range c.Links.Dashboards {
		l.Dashboards = append(l.Dashboards, blocks.NamedURL{Name: d.Name, URL: d.URL})
	}
	for name, e := range c.Environments {
		l.Namespaces[name] = e.Namespace
	}
	return l
}

func (c *Config) validateGates(p *problems) {
	if r := c.Gates.ReminderPercent; r < 0 || r > 99 {
		p.errorf("gates.reminderPercent must be from 1 to 99, or 0 for no reminder, not %d", r)
	}
	for _, env := range sortedKeys(c.Gates.Ping) {
		key := "gates.ping." + env
		ping := c.Gates.Ping[env]
		if _, ok := c.Environments[env]; !ok {
			p.errorf("%s: %s is not one of the environments", key, excerpt(env))
		}
		if ping.None && (len(ping.Users) > 0 || len(ping.Groups) > 0) {
			p.errorf("%s: none is true but users or groups are named", key)
		}
		validatePrincipals(p, key, Principals{Users: ping.Users, Groups: ping.Groups})
	}
	if c.Links.Runbook != "" && !isHTTPURL(c.Links.Runbook, "https") {
		p.errorf("links.runbook: %s is not an https URL", excerpt(c.Links.Runbook))
	}
	if c.Links.ArgoCD != "" {
		if err := blocks.CheckURLTemplate(c.Links.ArgoCD); err != nil {
			p.errorf("links.argoCD: %s: %v", excerpt(c.Links.ArgoCD), err)
		}
	}
	for i, d := range c.Links.Dashboards {
		key := fmt.Sprintf("links.dashboards[%d]", i)
		if d.Name == "" || len(d.Name) > 40 {
			p.errorf("%s.name must be 1 to 40 characters", key)
		}
		if err := blocks.CheckURLTemplate(d.URL); err != nil {
			p.errorf("%s.url: %s: %v", key, excerpt(d.URL), err)
		}
	}
}

// validatePrincipals checks that users and groups are Slack ids.
func validatePrincipals(p *problems, key string, ps Principals) {
	for i, u := range ps.Users {
		if !userPattern.MatchString(u) {
			p.errorf("%s.users[%d]: %s is not a Slack user id (like U0123ABCD)", key, i, excerpt(u))
		}
	}
	for i, g := range ps.Groups {
		if !groupPattern.MatchString(g) {
			p.errorf("%s.groups[%d]: %s is not a Slack user group id (like S0123ABCD)", key, i, excerpt(g))
		}
	}
}
