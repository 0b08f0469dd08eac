package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// unavailable stands in for an environment's Signon or cluster that the
// bot could not set up at start (no kubeconfig, no service identity): the
// bot still starts, and every call says why it cannot be made.
type unavailable struct {
	env, reason        string
	namespace, cronJob string
}

func (u unavailable) err(what string) error {
	return fmt.Errorf("%s: %w", what, &commands.BackendDown{Environment: u.env, Reason: u.reason})
}

func (u unavailable) FindAPIUser(context.Context, string) (flows.APIUser, error) {
	return flows.APIUser{}, u.err("signon: find API user")
}

func (u unavailable) Tokens(context.Context, string, string) (flows.TokenSet, error) {
	return flows.TokenSet{}, u.err("signon: list tokens")
}

func (u unavailable) Expiring(context.Context, time.Duration) ([]flows.ExpiringToken, error) {
	return nil, u.err("signon: list expiring tokens")
}

func (u unavailable) Issue(context.Context, flows.IssueRequest) (flows.Issued, error) {
	return flows.Issued{}, u.err("signon: issue a token")
}

func (u unavailable) Revoke(context.Context, flows.RevokeRequest) (flows.Revoked, error) {
	return flows.Revoked{}, u.err("signon: revoke a token")
}

func (u unavailable) Reveal(context.Context, flows.RevealRequest) (flows.Revealed, error) {
	return flows.Revealed{}, u.err("signon: reveal a token")
}

func (u unavailable) SecretName(apiUserName, application string) string {
	return flows.Parameterize("signon-token-" + apiUserName + "-" + application)
}

// Location names the configured namespace and CronJob, for the thread.
func (u unavailable) Location() (namespace, cronJob string) { return u.namespace, u.cronJob }

func (u unavailable) Secret(context.Context, string) (flows.SecretState, error) {
	return flows.SecretState{}, u.err("cluster: read a Secret")
}

func (u unavailable) Consumers(context.Context, string) ([]flows.Consumer, error) {
	return nil, u.err("cluster: find consumers")
}

func (u unavailable) StartSync(context.Context, string, time.Time) (flows.SyncJob, error) {
	return flows.SyncJob{}, u.err("cluster: start the sync job")
}

func (u unavailable) WaitSync(context.Context, string, string, func(flows.SyncProgress)) (flows.SyncResult, error) {
	return flows.SyncResult{}, u.err("cluster: wait for the sync job")
}

func (u unavailable) WaitRollout(context.Context, string, time.Time, time.Duration) (flows.Rollout, error) {
	return flows.Rollout{}, u.err("cluster: wait for a rollout")
}

func (u unavailable) RestartDeployment(context.Context, string, time.Time) error {
	return u.err("cluster: restart a Deployment")
}

func (u unavailable) CheckPods(context.Context, flows.Consumer, token.Fingerprint) ([]flows.PodCheck, error) {
	return nil, u.err("cluster: check pods")
}

func (u unavailable) LiveCheck(context.Context, flows.Consumer, string) (flows.LiveCheck, error) {
	return flows.LiveCheck{}, u.err("cluster: live check")
}

var (
	_ flows.Signon  = unavailable{}
	_ flows.Cluster = unavailable{}
)
