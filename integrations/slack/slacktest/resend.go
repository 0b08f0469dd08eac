package slacktest

// Resend delivers an acked envelope again under its own envelope_id, with
// the next retry_attempt, as Slack does when the app's ack never reached
// it. The delivery then waits for a second ack; its response_url stays
// the same.
func (d *Delivery) Resend() {
	s := d.s
	s.mu.Lock()
	e := d.e
	if !e.acked {
		s.mu.Unlock()
		s.misuse("Resend: envelope %s has not been acked yet", e.id)
		return
	}
	e.acked = false
	e.attempt++
	e.retryReason = "timeout"
	e.conn = nil
	s.pending = append(s.pending, e)
	s.notifyLocked()
	s.mu.Unlock()
	s.dispatch()
}
