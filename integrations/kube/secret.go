package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// SecretKey is the key of the token in a token Secret.
const SecretKey = "bearer_token"

// SecretName is the Secret the sync task writes: Rails' parameterize of
// "signon-token-<API user name>-<application name>".
func (c *Client) SecretName(apiUserName, application string) string {
	return flows.Parameterize("signon-token-" + apiUserName + "-" + application)
}

// Secret reads the token Secret and returns the fingerprint of its
// bearer_token; the value goes no further than this function. UpdatedAt is
// the newest write the apiserver recorded in the Secret's managed fields.
func (c *Client) Secret(ctx context.Context, name string) (flows.SecretState, error) {
	s := &corev1.Secret{}
	err := c.get(ctx, c.api.core, "secrets", name, s)
	if apierrors.IsNotFound(err) {
		return flows.SecretState{Name: name}, nil
	}
	if err != nil {
		return flows.SecretState{}, wrapErr(err, "get secret "+c.cfg.Namespace+"/"+name)
	}
	st := flows.SecretState{Name: name, Exists: true, UpdatedAt: s.CreationTimestamp.UTC()}
	if v, ok := s.Data[SecretKey]; ok {
		st.Fingerprint = token.FingerprintOf(string(v))
	}
	for _, mf := range s.ManagedFields {
		if mf.Time != nil && mf.Time.After(st.UpdatedAt) {
			st.UpdatedAt = mf.Time.UTC()
		}
	}
	return st, nil
}
