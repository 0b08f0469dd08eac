package kube

import (
	"context"
	"errors"
	"fmt"
	"net"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/alphagov/signon-token-bot/flows"
)

// wrapErr describes a failed call (what, e.g. "get cronjob apps/x") and
// adds the flows error it amounts to, so that the Slack layer can say
// "forbidden" or "missing" without parsing messages.
func wrapErr(err error, what string) error {
	if kind := classify(err); kind != nil {
		return fmt.Errorf("%s: %w: %w", what, kind, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func classify(err error) error {
	var netErr net.Error
	switch {
	case apierrors.IsNotFound(err):
		return flows.ErrNotFound
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return flows.ErrForbidden
	// Before net.Error, which context.DeadlineExceeded also is.
	case errors.Is(err, context.DeadlineExceeded):
		return flows.ErrTimeout
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err),
		errors.As(err, &netErr):
		return flows.ErrUnavailable
	}
	return nil
}
