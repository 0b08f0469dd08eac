package flows

import (
	"context"
	"errors"
	"fmt"
)

// reveal shows the run's new token to its requester. It reads the token
// by id (Signon's reveal writes nothing and never makes a token), so a
// token revoked or expired outside the bot stays gone, and the thread says
// so. The token may be revealed again while the hand-off is open, so that
// someone whose window failed to show it is not stuck; each reveal is
// announced in the thread, counted and audited.
func (e *Engine) reveal(ctx context.Context, run *Run, req ActRequest) error {
	if e.revealer == nil {
		return errors.New("this bot has no way to reveal tokens")
	}
	if run.NewToken == nil {
		return fmt.Errorf("%w: there is no new token yet", ErrBadInput)
	}
	id := run.NewToken.ID
	got, err := e.envs[run.Key.Environment].Signon.Reveal(ctx, RevealRequest{Email: run.Key.APIUser, Application: run.ApplicationName, TokenID: id})
	if errors.Is(err, ErrAlreadyRevoked) || errors.Is(err, ErrUnknownToken) || errors.Is(err, ErrWrongOwner) {
		e.audit(ctx, run, req.Actor, "reveal", "refused", err.Error())
		e.record(ctx, run.ID, func(r *Run) {
			r.post(Post{Step: StepHandoff, At: e.clock.Now(), Title: "The new token cannot be revealed", Outcome: "warning", Lines: []string{
				fmt.Sprintf("%s asked to see token #%d, but Signon no longer has it as a live token: %s", Mention(req.Actor), id, Untrusted(err.Error())),
				"Nobody can receive it now. Cancel this run, then rotate again: a new run issues a fresh token. The old token is untouched.",
			}})
		})
		return &StaleError{Reason: fmt.Sprintf("Token #%d is no longer live in Signon (revoked or expired outside the bot), so there is nothing to reveal; the thread says what to do.", id)}
	}
	if err != nil {
		return fmt.Errorf("read token %d from Signon: %w", id, err)
	}
	if got.Token.ID != id || got.Token.Fingerprint != run.NewToken.Fingerprint {
		return fmt.Errorf("Signon returned token %d (fingerprint %s), not this run's token %d (fingerprint %s): reveal nothing", got.Token.ID, got.Token.Fingerprint.Short(), id, run.NewToken.Fingerprint.Short())
	}
	if err := e.revealer.Reveal(ctx, req.Handle, run, got.Secret); err != nil {
		return fmt.Errorf("reveal token %d: %w", id, err)
	}
	e.audit(ctx, run, req.Actor, "reveal", "ok", fmt.Sprintf("token %d fingerprint %s", id, got.Token.Fingerprint))
	e.record(ctx, run.ID, func(r *Run) {
		r.Reveals++
		r.post(Post{Step: StepHandoff, At: e.clock.Now(), Title: "Token revealed", Lines: []string{
			fmt.Sprintf("%s saw the new token #%d (fingerprint %s) in a private window: reveal %d of this hand-off.", Mention(req.Actor), id, Code(run.NewToken.Fingerprint.Short()), r.Reveals),
		}})
	})
	return nil
}

// record adds what change does to the stored run and posts it, retrying
// a lost compare-and-set. A reveal has happened by then, so a failure is
// logged, not returned: the audit trail holds it already.
func (e *Engine) record(ctx context.Context, id string, change func(*Run)) {
	for range 5 {
		run, err := e.store.Run(ctx, id)
		if err != nil {
			e.log.Warn("record a reveal", "run", id, "err", err)
			return
		}
		change(run)
		if err := e.save(ctx, run); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			e.runLog(run).Warn("record a reveal", "err", err)
			return
		}
		if err := e.publish(ctx, run); err != nil {
			e.runLog(run).Warn("update thread", "err", err)
		}
		return
	}
}
