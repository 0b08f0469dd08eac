package bot

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube"
)

// Config is everything the bot is told: environment variables for the
// process and its connections, the YAML file for the runbook's policy.
// Fields tagged for JSON are the YAML file's keys.
type Config struct {
	Slack       SlackConfig `json:"-"`
	Redis       RedisConfig `json:"-"`
	StatePrefix string      `json:"-"`
	HTTPAddr    string      `json:"-"`
	LogLevel    slog.Level  `json:"-"`
	LogFormat   string      `json:"-"`
	// File is the YAML file read, "" when there was none.
	File string `json:"-"`
	// Owner is the pod's name (POD_NAME, from the downward API): the
	// replica's stable name in run leases, so that a restarted container
	// takes its runs back at once. "" outside Kubernetes: every process
	// is a new owner, and waits for its predecessor's leases to lapse.
	Owner string `json:"-"`

	// AlertChannels are the channel ids where alerts are recognised.
	AlertChannels []string `json:"alertChannels"`
	// AlertSenders are the bot ids (B…) and app ids (A…) whose messages
	// count as alerts: Alertmanager's webhook. Nobody else's do.
	AlertSenders []string `json:"alertSenders"`
	// SignonConcurrency bounds the Signon consoles (rails runner) the bot
	// runs at once in each environment; the rest wait in turn.
	SignonConcurrency int `json:"signonConcurrency"`
	// DefaultEnvironment is /rotate-token's when the command names none.
	DefaultEnvironment string `json:"defaultEnvironment"`
	// GateTimeout is how long a gate stays open before it expires (the
	// run waits on).
	GateTimeout time.Duration `json:"gateTimeout"`
	// HandoffTimeout is how long the private hand-off of an external
	// consumer's token waits for its requester.
	HandoffTimeout time.Duration `json:"handoffTimeout"`
	// DisusedAfter: a token whose "last synced" is older is offered for
	// revocation instead of rotation.
	DisusedAfter time.Duration `json:"disusedAfter"`
	// ExpiryWindow is the alert's "expires within" (14 days).
	ExpiryWindow time.Duration `json:"expiryWindow"`
	// Retention is how long finished runs are kept.
	Retention time.Duration `json:"retention"`
	// LeaseTTL is how long a replica's claim on a run outlives it: a
	// crashed replica's runs are taken over after it. SweepInterval is how
	// often the engine looks for such runs and for expired gates.
	LeaseTTL      time.Duration `json:"leaseTTL"`
	SweepInterval time.Duration `json:"sweepInterval"`
	// StepTimeout is how long a step may go without progress, beyond the
	// waits whose length it knows, before its replica lets the lease
	// lapse so that another replica takes the run over.
	StepTimeout time.Duration `json:"stepTimeout"`
	// ServiceIdentity is the email Signon records as the initiator when
	// the Slack user has no Signon account.
	ServiceIdentity string                 `json:"serviceIdentity"`
	SpecialCases    SpecialCases           `json:"specialCases"`
	Environments    map[string]Environment `json:"environments"`
	// Gates and Links: pings, reminders and links (configgates.go).
	Gates Gates `json:"gates"`
	Links Links `json:"links"`
}

// SlackConfig is how to reach Slack.
type SlackConfig struct {
	AppToken string // xapp-, for Socket Mode
	BotToken string // xoxb-, for the Web API
	APIURL   string
	// Unpaced sends Web API calls at once instead of at Slack's published
	// rates (SLACK_PACING=off): for a fake Slack that does not limit them.
	Unpaced bool
}

// RedisConfig is how to reach Redis: a URL, or Sentinel or Cluster
// addresses.
type RedisConfig struct {
	URL        string
	Addrs      []string
	MasterName string
	Cluster    bool
	Username   string
	Password   string
}

// SpecialCases are the tokens the runbook says not to rotate.
type SpecialCases struct {
	// SelfRotating API users (by email) rotate their own tokens.
	SelfRotating []string    `json:"selfRotating"`
	OtherTeam    []OtherTeam `json:"otherTeam"`
	// HumanEmailSuffixes mark API users that belong to a person, who
	// should rotate their own token.
	HumanEmailSuffixes []string `json:"humanEmailSuffixes"`
}

// OtherTeam is a set of API users another team looks after.
type OtherTeam struct {
	// APIUsers are names or emails.
	APIUsers []string `json:"apiUsers"`
	// Procedure names that team's procedure; Link points to it.
	Procedure string `json:"procedure"`
	Link      string `json:"link"`
}

// Environment is one cluster and the rules for rotating in it.
type Environment struct {
	// Rotate false means alerts are explained and offered no buttons.
	Rotate bool `json:"rotate"`
	// Kubeconfig "" means the in-cluster configuration.
	Kubeconfig       string `json:"kubeconfig"`
	Context          string `json:"context"`
	Namespace        string `json:"namespace"`
	CronJob          string `json:"cronJob"`
	SignonDeployment string `json:"signonDeployment"`
	SignonContainer  string `json:"signonContainer"`
	// Starters may start runs; Approvers may pass gates. With no
	// approvers the starters approve; with neither, nobody may act.
	Starters  Principals `json:"starters"`
	Approvers Principals `json:"approvers"`
	// FourEyesRevoke: the revoke gate needs someone other than the
	// run's starter.
	FourEyesRevoke      bool          `json:"fourEyesRevoke"`
	SyncTimeout         time.Duration `json:"syncTimeout"`
	RolloutStartTimeout time.Duration `json:"rolloutStartTimeout"`
	// VerifyTimeout bounds the whole verification of the consumers.
	VerifyTimeout time.Duration `json:"verifyTimeout"`
	// CallTimeout bounds each single call to the cluster's apiserver.
	CallTimeout time.Duration `json:"callTimeout"`
	// LiveChecks are the smoke tests per application: "builtin" or a
	// command.
	LiveChecks map[string]LiveCheck `json:"liveChecks"`
	// Sweep is the daily sweep and digest (configsweep.go).
	Sweep Sweep `json:"sweep"`
	// Autopilot is how far the sweep goes by itself: off, to-gates or
	// full; "" is the environment's default (configautopilot.go).
	// AutopilotAcknowledgement is the text production's full needs.
	Autopilot                AutopilotSetting `json:"autopilot"`
	AutopilotAcknowledgement string           `json:"autopilotAcknowledgement"`
}

// Principals are Slack users and user groups.
type Principals struct {
	Users  []string `json:"users"`
	Groups []string `json:"groups"`
}

// LiveCheck is an application's smoke test after a rotation.
type LiveCheck struct {
	// Builtin means the bot's own check (a call with the new token).
	Builtin bool
	// Command is run in a consumer pod instead.
	Command []string
}

// Defaults that a YAML file may override.
const (
	defaultSlackAPIURL = "https://slack.com/api/"
	defaultStatePrefix = "stb"
	defaultHTTPAddr    = ":8080"
	runbookURL         = "https://docs.publishing.service.gov.uk/manual/alerts/signon-api-user-token-expires-soon.html"
)

// DefaultConfig is GOV.UK's setup: three environments, staging not rotated
// (its database is restored from production every weekday).
func DefaultConfig() Config {
	return Config{
		StatePrefix:        defaultStatePrefix,
		HTTPAddr:           defaultHTTPAddr,
		LogLevel:           slog.LevelInfo,
		LogFormat:          "json",
		DefaultEnvironment: flows.Production,
		GateTimeout:        4 * time.Hour,
		HandoffTimeout:     24 * time.Hour,
		DisusedAfter:       30 * 24 * time.Hour,
		ExpiryWindow:       14 * 24 * time.Hour,
		Retention:          30 * 24 * time.Hour,
		LeaseTTL:           30 * time.Second,
		SweepInterval:      10 * time.Second,
		StepTimeout:        5 * time.Minute,
		SignonConcurrency:  flows.DefaultSignonConcurrency,
		Gates:              Gates{ReminderPercent: 80},
		Links:              Links{Runbook: runbookURL},
		SpecialCases: SpecialCases{
			SelfRotating: []string{"signon+permissions@alphagov.co.uk"},
			OtherTeam: []OtherTeam{{APIUsers: []string{"Trade Tariff Admin", "Trade Tariff Backend"},
				Procedure: `"Trade Tariff Admin" on the GOV.UK wiki`, Link: runbookURL}},
		},
		Environments: map[string]Environment{
			flows.Integration: EnvironmentDefaults(flows.Integration),
			flows.Staging:     EnvironmentDefaults(flows.Staging),
			flows.Production:  EnvironmentDefaults(flows.Production),
		},
	}
}

// EnvironmentDefaults is where every environment's settings start.
func EnvironmentDefaults(name string) Environment {
	return Environment{
		Rotate:              name != flows.Staging,
		Namespace:           "apps",
		CronJob:             "signon-sync-token-secrets-to-k8s",
		SignonDeployment:    "signon",
		SignonContainer:     "app",
		FourEyesRevoke:      true,
		SyncTimeout:         10 * time.Minute,
		RolloutStartTimeout: 5 * time.Minute,
		VerifyTimeout:       15 * time.Minute,
		CallTimeout:         kube.DefaultCallTimeout,
		LiveChecks:          map[string]LiveCheck{},
	}
}

// loadConfig reads the environment and the YAML file (configFlag, else
// CONFIG_FILE) and validates both. Its error is a ConfigError: every
// problem found, one line each, naming the key at fault.
func loadConfig(getenv func(string) string, configFlag string) (*Config, error) {
	cfg := DefaultConfig()
	var p problems
	cfg.fromEnv(&p, getenv)
	cfg.fromFile(&p, getenv, configFlag)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// maxConfigFile bounds the YAML file: the bot's policy fits in a few
// kilobytes, and a file of gigabytes would be held in memory whole.
const maxConfigFile = 1 << 20

// fromFile reads the YAML file (configFlag, else CONFIG_FILE), if any,
// onto c and validates the result.
func (c *Config) fromFile(p *problems, getenv func(string) string, configFlag string) {
	key, path := "-config", configFlag
	if path == "" {
		key, path = "CONFIG_FILE", getenv("CONFIG_FILE")
	}
	if path != "" {
		data, err := readBounded(path, maxConfigFile)
		if err != nil {
			p.errorf("%s: %v", key, err)
			return
		}
		p.file = path
		defer func() { p.file = "" }()
		c.File = path
		if !decodeYAML(p, data, c) {
			return
		}
	}
	// Only the file can make these invalid; the defaults are valid.
	c.validate(p)
}

var (
	statePrefixPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	channelPattern     = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	userPattern        = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	groupPattern       = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
	senderPattern      = regexp.MustCompile(`^[AB][A-Z0-9]{2,}$`)
	dnsLabelPattern    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsNamePattern     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	appNamePattern     = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
)

// podNamePattern is a Kubernetes object name (a DNS subdomain).
var podNamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

func (c *Config) fromEnv(p *problems, getenv func(string) string) {
	c.Slack.AppToken = getenv("SLACK_APP_TOKEN")
	c.Slack.BotToken = getenv("SLACK_BOT_TOKEN")
	switch {
	case c.Slack.AppToken == "":
		p.errorf("SLACK_APP_TOKEN is required (the app-level token, xapp-...)")
	case !strings.HasPrefix(c.Slack.AppToken, "xapp-"):
		p.errorf("SLACK_APP_TOKEN must start with xapp-")
	}
	switch {
	case c.Slack.BotToken == "":
		p.errorf("SLACK_BOT_TOKEN is required (the bot token, xoxb-...)")
	case !strings.HasPrefix(c.Slack.BotToken, "xoxb-"):
		p.errorf("SLACK_BOT_TOKEN must start with xoxb-")
	}

	c.Slack.APIURL = or(getenv("SLACK_API_URL"), defaultSlackAPIURL)
	if !isHTTPURL(c.Slack.APIURL, "http", "https") {
		p.errorf("SLACK_API_URL: %s is not an http(s) URL", excerpt(c.Slack.APIURL))
	} else if !strings.HasSuffix(c.Slack.APIURL, "/") {
		p.errorf("SLACK_API_URL must end with / (like %s)", defaultSlackAPIURL)
	}
	switch getenv("SLACK_PACING") {
	case "", "on":
	case "off":
		c.Slack.Unpaced = true
	default:
		p.errorf("SLACK_PACING must be on or off, not %s", excerpt(getenv("SLACK_PACING")))
	}

	c.Redis.fromEnv(p, getenv)

	c.StatePrefix = or(getenv("STATE_PREFIX"), defaultStatePrefix)
	if !statePrefixPattern.MatchString(c.StatePrefix) {
		p.errorf("STATE_PREFIX: %s may hold only letters, digits and . _ : - (at most 64)", excerpt(c.StatePrefix))
	}
	c.Owner = getenv("POD_NAME")
	if c.Owner != "" && !podNamePattern.MatchString(c.Owner) {
		p.errorf("POD_NAME: %s is not a pod name (lower-case letters, digits, - and ., at most 253)", excerpt(c.Owner))
	}
	c.HTTPAddr = or(getenv("HTTP_ADDR"), defaultHTTPAddr)
	// Port 0 picks a free port: the tests' way to run several bots.
	if !isHostPort(c.HTTPAddr, 0) {
		p.errorf("HTTP_ADDR: %s is not host:port (like :8080)", excerpt(c.HTTPAddr))
	}
	switch lvl := or(getenv("LOG_LEVEL"), "info"); lvl {
	case "debug", "info", "warn", "error":
		_ = c.LogLevel.UnmarshalText([]byte(lvl))
	default:
		p.errorf("LOG_LEVEL must be one of debug, info, warn, error (not %s)", excerpt(lvl))
	}
	c.LogFormat = or(getenv("LOG_FORMAT"), "json")
	if c.LogFormat != "json" && c.LogFormat != "text" {
		p.errorf("LOG_FORMAT must be json or text (not %s)", excerpt(c.LogFormat))
	}
}

func (r *RedisConfig) fromEnv(p *problems, getenv func(string) string) {
	r.URL = getenv("REDIS_URL")
	if addrs := getenv("REDIS_ADDRS"); addrs != "" {
		for _, a := range strings.Split(addrs, ",") {
			a = strings.TrimSpace(a)
			if !isHostPort(a, 1) || strings.HasPrefix(a, ":") {
				p.errorf("REDIS_ADDRS: %s is not host:port", excerpt(a))
				continue
			}
			r.Addrs = append(r.Addrs, a)
		}
	}
	r.MasterName = getenv("REDIS_MASTER_NAME")
	r.Username = getenv("REDIS_USERNAME")
	r.Password = getenv("REDIS_PASSWORD")
	if v := getenv("REDIS_CLUSTER"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.errorf("REDIS_CLUSTER must be true or false (not %s)", excerpt(v))
		}
		r.Cluster = b
	}
	switch {
	case r.URL == "" && len(r.Addrs) == 0 && getenv("REDIS_ADDRS") == "":
		p.errorf("REDIS_URL or REDIS_ADDRS is required")
	case r.URL != "" && getenv("REDIS_ADDRS") != "":
		p.errorf("REDIS_URL and REDIS_ADDRS cannot both be set")
	case r.URL != "" && r.MasterName != "":
		p.errorf("REDIS_MASTER_NAME needs REDIS_ADDRS (the Sentinel addresses), not REDIS_URL")
	case r.URL != "" && r.Cluster:
		p.errorf("REDIS_CLUSTER needs REDIS_ADDRS (the cluster's addresses), not REDIS_URL")
	case r.Cluster && r.MasterName != "":
		p.errorf("REDIS_CLUSTER and REDIS_MASTER_NAME cannot both be set")
	case len(r.Addrs) > 1 && !r.Cluster && r.MasterName == "":
		p.errorf("REDIS_ADDRS lists %d addresses: set REDIS_MASTER_NAME (Sentinel) or REDIS_CLUSTER=true", len(r.Addrs))
	}
	if r.URL != "" {
		// The URL may hold a password: never echo it.
		if !strings.HasPrefix(r.URL, "redis://") && !strings.HasPrefix(r.URL, "rediss://") {
			p.errorf("REDIS_URL must start with redis:// or rediss://")
			return
		}
		u, err := url.Parse(r.URL)
		if err != nil {
			p.errorf("REDIS_URL is not a valid URL")
			return
		}
		if port := u.Port(); port != "" && !validPort(port, 1) {
			p.errorf("REDIS_URL: the port must be from 1 to 65535")
			return
		}
		if _, err := redis.ParseURL(r.URL); err != nil {
			p.errorf("REDIS_URL: %s", strings.TrimPrefix(err.Error(), "redis: "))
		}
	}
}

// Validate checks what the YAML file may set; the environment was checked
// as it was read. Its error is a ConfigError naming every problem.
func (c *Config) Validate() error {
	var p problems
	c.validate(&p)
	return p.err()
}

func (c *Config) validate(p *problems) {
	for i, ch := range c.AlertChannels {
		if !channelPattern.MatchString(ch) {
			p.errorf("alertChannels[%d]: %s is not a channel id (like C0123ABCD)", i, excerpt(ch))
		}
	}
	for i, s := range c.AlertSenders {
		if !senderPattern.MatchString(s) {
			p.errorf("alertSenders[%d]: %s is not a bot id (like B0123ABCD) or an app id (like A0123ABCD)", i, excerpt(s))
		}
	}
	if c.SignonConcurrency < 1 || c.SignonConcurrency > 16 {
		p.errorf("signonConcurrency must be from 1 to 16, not %d", c.SignonConcurrency)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"gateTimeout", c.GateTimeout}, {"handoffTimeout", c.HandoffTimeout}, {"disusedAfter", c.DisusedAfter}, {"expiryWindow", c.ExpiryWindow},
		{"retention", c.Retention}, {"leaseTTL", c.LeaseTTL}, {"sweepInterval", c.SweepInterval},
		{"stepTimeout", c.StepTimeout}} {
		if d.v <= 0 {
			p.errorf("%s must be more than 0", d.key)
		}
	}
	if c.Retention > 0 && c.Retention < time.Minute {
		p.errorf("retention must be at least 1m")
	}
	if c.ServiceIdentity != "" && flows.ValidateEmail(c.ServiceIdentity) != nil {
		p.errorf("serviceIdentity: %s is not an email address", excerpt(c.ServiceIdentity))
	}
	for i, e := range c.SpecialCases.SelfRotating {
		if flows.ValidateEmail(e) != nil {
			p.errorf("specialCases.selfRotating[%d]: %s is not an email address", i, excerpt(e))
		}
	}
	for i, s := range c.SpecialCases.HumanEmailSuffixes {
		if !strings.HasPrefix(s, "@") || flows.ValidateEmail("x"+s) != nil {
			p.errorf("specialCases.humanEmailSuffixes[%d]: %s is not an email domain like @example.gov.uk", i, excerpt(s))
		}
	}
	for i, o := range c.SpecialCases.OtherTeam {
		key := fmt.Sprintf("specialCases.otherTeam[%d]", i)
		if len(o.APIUsers) == 0 {
			p.errorf("%s.apiUsers must name at least one API user", key)
		}
		for j, u := range o.APIUsers {
			if strings.TrimSpace(u) == "" {
				p.errorf("%s.apiUsers[%d] is empty", key, j)
			}
		}
		if !isHTTPURL(o.Link, "https") {
			p.errorf("%s.link: %s is not an https URL", key, excerpt(o.Link))
		}
	}
	if len(c.Environments) == 0 {
		p.errorf("environments must list at least one environment")
		return
	}
	names := make([]string, 0, len(c.Environments))
	for name := range c.Environments {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !dnsLabelPattern.MatchString(name) {
			p.errorf("environments: %s is not an environment name like production", excerpt(name))
			continue
		}
		c.Environments[name].validate(p, "environments."+name)
		c.Environments[name].validateAutopilot(p, name)
	}
	if e, ok := c.Environments[c.DefaultEnvironment]; !ok || !e.Rotate {
		p.errorf("defaultEnvironment: %s is not one of the environments the bot rotates in", excerpt(c.DefaultEnvironment))
	}
	c.validateGates(p)
}

func (e Environment) validate(p *problems, key string) {
	if e.Kubeconfig != "" {
		if _, err := os.Stat(e.Kubeconfig); err != nil {
			p.errorf("%s.kubeconfig: %s cannot be read: %v", key, excerpt(e.Kubeconfig), errors.Unwrap(err))
		}
	}
	for _, n := range []struct {
		field, v string
		max      int
		pattern  *regexp.Regexp
		what     string
	}{
		{"namespace", e.Namespace, 63, dnsLabelPattern, "a DNS label"},
		{"cronJob", e.CronJob, 52, dnsLabelPattern, "a CronJob name"},
		{"signonDeployment", e.SignonDeployment, 253, dnsNamePattern, "a Deployment name"},
		{"signonContainer", e.SignonContainer, 63, dnsLabelPattern, "a container name"},
	} {
		if !n.pattern.MatchString(n.v) || len(n.v) > n.max {
			p.errorf("%s.%s: %s is not %s", key, n.field, excerpt(n.v), n.what)
		}
	}
	validatePrincipals(p, key+".starters", e.Starters)
	validatePrincipals(p, key+".approvers", e.Approvers)
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"syncTimeout", e.SyncTimeout}, {"rolloutStartTimeout", e.RolloutStartTimeout}, {"verifyTimeout", e.VerifyTimeout}, {"callTimeout", e.CallTimeout}} {
		if d.v <= 0 {
			p.errorf("%s.%s must be more than 0", key, d.field)
		}
	}
	if err := e.Sweep.validate(key+".sweep", e.Rotate); err != nil {
		p.errorf("%v", err)
	}
	apps := make([]string, 0, len(e.LiveChecks))
	for app := range e.LiveChecks {
		apps = append(apps, app)
	}
	slices.Sort(apps)
	for _, app := range apps {
		if !appNamePattern.MatchString(app) {
			p.errorf("%s.liveChecks: %s is not an application name like publishing-api", key, excerpt(app))
		}
	}
}

// isHostPort: host:port with a port from min to 65535.
func isHostPort(s string, min int) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && validPort(port, min)
}

func validPort(port string, min int) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= min && n <= 65535
}

// isHTTPURL: an absolute URL of one of schemes, with a host and, if it
// names one, a port from 1 to 65535.
func isHTTPURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Hostname() == "" {
		return false
	}
	return u.Port() == "" || validPort(u.Port(), 1)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
