package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// NameStore keeps owner names, each held by one incarnation (process) at
// a time. A Store that has it gives an engine with a configured Owner a
// stable identity: its leases are held as owner#incarnation, and the
// store lets another incarnation of the same owner take them at once.
type NameStore interface {
	// TakeName makes incarnation the name's holder and returns the one
	// that held it before, "" if none.
	TakeName(ctx context.Context, name, incarnation string, ttl time.Duration) (string, error)
	// RenewName keeps the name for incarnation; false if another holds it.
	RenewName(ctx context.Context, name, incarnation string, ttl time.Duration) (bool, error)
	// ReleaseName gives the name up if incarnation holds it.
	ReleaseName(ctx context.Context, name, incarnation string) error
}

// ErrSuperseded ends Run when another process took this engine's owner
// name: two processes under one name (a misconfiguration, or an old
// container not quite dead) must not both drive a run.
var ErrSuperseded = errors.New("another process took this replica's owner name")

// incarnation is this process's hold on its owner name.
//
// A restarted container takes its predecessor's leases at once, so the
// lease no longer keeps a second live process with the same name away
// from a run. The name does: the newest process takes it at start-up,
// and if it took it from a holder that had not let go (a crash, or a
// process still alive), it waits Handover before driving anything. A
// live holder renews the name every third of that, finds it taken, and
// cancels its drives and stops; a dead one was dead anyway. So the two
// never drive a run at the same time unless the old one stalls longer
// than Handover with a step in flight and then finishes that step; its
// next lease renewal then fails and it stops.
type incarnation struct {
	names    NameStore
	name, id string
	ttl      time.Duration
	handover time.Duration
}

// hold takes the name and, if another incarnation held it, waits the
// handover. It returns a context that ends when the name is lost, and a
// function to call when Run ends.
func (in *incarnation) hold(ctx context.Context, log *slog.Logger) (context.Context, func() error, error) {
	var prev string
	for {
		var err error
		if prev, err = in.names.TakeName(ctx, in.name, in.id, in.ttl); err == nil {
			break
		}
		// Without the name no run may be driven, as without Redis.
		log.Warn("take owner name; trying again", "owner", in.name, "err", err)
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("take owner name %s: %w", in.name, err)
		case <-time.After(in.handover):
		}
	}
	held, lost := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.renew(held, lost, log)
	}()
	if prev != "" && prev != in.id {
		log.Warn("owner name was held by another process: waiting for it to let go before driving runs",
			"owner", in.name, "previous", prev, "wait", in.handover)
		select {
		case <-held.Done():
		case <-time.After(in.handover):
		}
	}
	end := func() error {
		lost(nil)
		<-done
		cause := context.Cause(held)
		if errors.Is(cause, ErrSuperseded) {
			return cause
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := in.names.ReleaseName(rctx, in.name, in.id); err != nil {
			log.Warn("release owner name", "owner", in.name, "err", err)
		}
		return nil
	}
	return held, end, nil
}

// renew keeps the name until ctx ends, and ends it with ErrSuperseded
// when another incarnation takes the name.
func (in *incarnation) renew(ctx context.Context, lost context.CancelCauseFunc, log *slog.Logger) {
	every(ctx, in.handover/3, func() bool {
		ok, err := in.names.RenewName(ctx, in.name, in.id, in.ttl)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("renew owner name", "owner", in.name, "err", err)
		case err == nil && !ok:
			log.Error("another process took this replica's owner name: stopping every drive (two processes must not share one: check POD_NAME)",
				"owner", in.name, "incarnation", in.id)
			lost(fmt.Errorf("%w %s", ErrSuperseded, in.name))
			return true
		}
		return false
	})
}
