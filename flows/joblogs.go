package flows

import "fmt"

// jobLogs is the command that shows a sync Job's logs, as code: what the
// on-call engineer reaches for when a sync is slow or fails.
func (e *Engine) jobLogs(run *Run, job string) string {
	ns, _ := e.location(run)
	return "Logs: " + Code(fmt.Sprintf("kubectl -n %s logs job/%s", ns, job)) + "."
}
