package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
)

// CreateRun stores a new active run at version 1 and, in the same script,
// takes its key's lock, adds it to the active set and indexes its thread.
func (s *Store) CreateRun(ctx context.Context, run *flows.Run) error {
	if run == nil {
		return fmt.Errorf("create run: %w: no run", flows.ErrBadInput)
	}
	what := "create run " + run.ID
	if err := validID("run", run.ID); err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	if err := run.Key.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !run.Phase.Active() {
		return fmt.Errorf("%s: %w: a new run must be active, not %q", what, flows.ErrBadInput, run.Phase)
	}
	prevSchema, prevVersion := run.Schema, run.Version
	run.Schema, run.Version = flows.Schema, 1
	raw, head, err := encodeRun(run)
	if err != nil {
		run.Schema, run.Version = prevSchema, prevVersion
		return fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	status, args, err := result(createRunScript.Run(ctx, s.rdb,
		[]string{s.k.run(run.ID), s.k.lock(run.Key), s.k.active(), s.k.thread(run.Thread), s.k.heads()},
		run.ID, raw, run.CreatedAt.UnixMilli(), flag(run.Thread.Channel != "" && run.Thread.TS != ""), s.k.run(""), head))
	if err != nil || status != "ok" {
		run.Schema, run.Version = prevSchema, prevVersion
	}
	switch {
	case err != nil:
		return fail(what, s.k.run(run.ID), err)
	case status == "ok":
		return nil
	case status == "exists":
		return fmt.Errorf("%s: %w: a run with this id exists", what, flows.ErrConflict)
	case status == "locked" && len(args) == 1:
		return fmt.Errorf("%s: %w", what, &flows.ActiveRunError{RunID: args[0]})
	case status == "corrupt" && len(args) == 1:
		return corrupt(what, args[0])
	}
	return fmt.Errorf("%s: unexpected answer %q %q", what, status, args)
}

// Run loads a run.
func (s *Store) Run(ctx context.Context, id string) (*flows.Run, error) {
	if err := validID("run", id); err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	what, key := "load run "+id, s.k.run(id)
	ctx, cancel := s.op(ctx)
	defer cancel()
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s: %w", what, flows.ErrRunNotFound)
	}
	if err != nil {
		return nil, fail(what, key, err)
	}
	run, err := decodeRun(key, id, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return run, nil
}

// encodeRun is a run's record and its head (see ActiveHeads).
func encodeRun(run *flows.Run) (raw, head []byte, err error) {
	if raw, err = json.Marshal(run); err != nil {
		return nil, nil, fmt.Errorf("encode: %w", err)
	}
	if head, err = json.Marshal(run.Head()); err != nil {
		return nil, nil, fmt.Errorf("encode head: %w", err)
	}
	return raw, head, nil
}

func decodeRun(key, id string, raw []byte) (*flows.Run, error) {
	return decode(key, id, raw, func(r *flows.Run) (int, string) { return r.Schema, r.ID })
}

// ActiveRun returns the run holding key's lock.
func (s *Store) ActiveRun(ctx context.Context, key flows.Key) (*flows.Run, error) {
	what := "active run of " + key.String()
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	opCtx, cancel := s.op(ctx)
	defer cancel()
	id, err := s.rdb.Get(opCtx, s.k.lock(key)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s: %w", what, flows.ErrRunNotFound)
	}
	if err != nil {
		return nil, fail(what, s.k.lock(key), err)
	}
	return s.Run(ctx, id)
}

// UpdateRun writes run if the stored version is run.Version, and bumps
// run.Version. When the phase is no longer active the run gives up its
// lock, leaves the active set, and it, its audit trail and (once no
// active run is left in it) its thread index expire after the retention.
//
// A run's key and thread are fixed once set (a run may be created with
// only its channel, and learn its thread's ts once its first message is
// posted), and an ended run stays
// ended: such a change is refused and nothing is written. Exactly one
// writer wins each version: a write that the client retried after losing
// the reply reports ErrConflict too, and the reloaded run shows it landed.
func (s *Store) UpdateRun(ctx context.Context, run *flows.Run) error {
	if run == nil {
		return fmt.Errorf("update run: %w: no run", flows.ErrBadInput)
	}
	what := fmt.Sprintf("update run %s at version %d", run.ID, run.Version)
	if err := validID("run", run.ID); err != nil {
		return fmt.Errorf("update run: %w", err)
	}
	if err := run.Key.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if run.Version < 1 {
		return fmt.Errorf("%s: %w: a stored run has version 1 or more", what, flows.ErrBadInput)
	}
	prevSchema, prevVersion := run.Schema, run.Version
	run.Schema, run.Version = flows.Schema, prevVersion+1
	raw, head, err := encodeRun(run)
	if err != nil {
		run.Schema, run.Version = prevSchema, prevVersion
		return fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	key := s.k.run(run.ID)
	status, args, err := result(updateRunScript.Run(ctx, s.rdb,
		[]string{key, s.k.lock(run.Key), s.k.active(), s.k.thread(run.Thread), s.k.runAudit(run.ID), s.k.heads()},
		run.ID, raw, prevVersion, flows.Schema, flag(run.Phase.Active()), s.opt.Retention.Milliseconds(),
		run.Thread.Channel, run.Thread.TS, run.CreatedAt.UnixMilli(),
		run.Key.Environment, run.Key.APIUser, run.Key.Application, head))
	if err != nil || status != "ok" {
		run.Schema, run.Version = prevSchema, prevVersion
	}
	switch {
	case err != nil:
		return fail(what, key, err)
	case status == "ok":
		return nil
	case status == "missing":
		return fmt.Errorf("%s: %w", what, flows.ErrRunNotFound)
	case status == "conflict" && len(args) == 1:
		return fmt.Errorf("%s: %w (stored version %s)", what, flows.ErrConflict, args[0])
	case status == "ended":
		return fmt.Errorf("%s: %w: the run has ended and cannot become active again", what, flows.ErrConflict)
	case status == "key":
		return fmt.Errorf("%s: %w: a run's key cannot change", what, flows.ErrBadInput)
	case status == "thread":
		return fmt.Errorf("%s: %w: a run's thread cannot move once set", what, flows.ErrBadInput)
	case status == "corrupt" && len(args) == 1:
		return corrupt(what, args[0])
	}
	return fmt.Errorf("%s: unexpected answer %q %q", what, status, args)
}

// RunsInThread lists the ids of the runs indexed under a thread, oldest
// first.
func (s *Store) RunsInThread(ctx context.Context, channel, ts string) ([]string, error) {
	t := flows.Thread{Channel: channel, TS: ts}
	what := "runs in thread " + channel + "/" + ts
	if channel == "" || ts == "" {
		return nil, fmt.Errorf("%s: %w: a thread needs a channel and a ts", what, flows.ErrBadInput)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	ids, err := s.rdb.ZRange(ctx, s.k.thread(t), 0, -1).Result()
	if err != nil {
		return nil, fail(what, s.k.thread(t), err)
	}
	return ids, nil
}

// flag is how scripts take a boolean.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
