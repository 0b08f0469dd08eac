// Package flows is the runbook "Rotate a Signon API token" as a resumable
// state machine: the step order, the gates, and the policies (special cases,
// environments, who may do what).
//
// It knows nothing of Slack, Redis or Kubernetes. It declares the narrow
// ports it needs (Signon, Cluster, Store, Notifier, Directory, Clock) and the
// integrations and state packages implement them.
package flows
