package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
)

// CreateBatch stores a new batch at version 1 and adds it to the active
// batches.
func (s *Store) CreateBatch(ctx context.Context, b *flows.Batch) error {
	if b == nil {
		return fmt.Errorf("create batch: %w: no batch", flows.ErrBadInput)
	}
	if err := validID("batch", b.ID); err != nil {
		return fmt.Errorf("create batch: %w", err)
	}
	what := "create batch " + b.ID
	prevSchema, prevVersion := b.Schema, b.Version
	b.Schema, b.Version = flows.Schema, 1
	raw, err := json.Marshal(b)
	if err != nil {
		b.Schema, b.Version = prevSchema, prevVersion
		return fmt.Errorf("%s: encode: %w", what, err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	status, args, err := result(createBatchScript.Run(ctx, s.rdb, []string{s.k.batch(b.ID), s.k.activeBatches()}, b.ID, raw))
	if err != nil || status != "ok" {
		b.Schema, b.Version = prevSchema, prevVersion
	}
	switch {
	case err != nil:
		return fail(what, s.k.batch(b.ID), err)
	case status == "ok":
		return nil
	case status == "exists":
		return fmt.Errorf("%s: %w: a batch with this id exists", what, flows.ErrConflict)
	case status == "corrupt" && len(args) == 1:
		return corrupt(what, args[0])
	}
	return fmt.Errorf("%s: unexpected answer %q %q", what, status, args)
}

// Batch loads a batch.
func (s *Store) Batch(ctx context.Context, id string) (*flows.Batch, error) {
	if err := validID("batch", id); err != nil {
		return nil, fmt.Errorf("load batch: %w", err)
	}
	what, key := "load batch "+id, s.k.batch(id)
	ctx, cancel := s.op(ctx)
	defer cancel()
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s: %w", what, flows.ErrBatchNotFound)
	}
	if err != nil {
		return nil, fail(what, key, err)
	}
	b, err := decode(key, id, raw, func(b *flows.Batch) (int, string) { return b.Schema, b.ID })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

// UpdateBatch writes b if the stored version is b.Version, and bumps
// b.Version. An ended batch leaves the active set and expires after the
// retention; it cannot become active again.
func (s *Store) UpdateBatch(ctx context.Context, b *flows.Batch) error {
	if b == nil {
		return fmt.Errorf("update batch: %w: no batch", flows.ErrBadInput)
	}
	if err := validID("batch", b.ID); err != nil {
		return fmt.Errorf("update batch: %w", err)
	}
	what := fmt.Sprintf("update batch %s at version %d", b.ID, b.Version)
	if b.Version < 1 {
		return fmt.Errorf("%s: %w: a stored batch has version 1 or more", what, flows.ErrBadInput)
	}
	prevSchema, prevVersion := b.Schema, b.Version
	b.Schema, b.Version = flows.Schema, prevVersion+1
	raw, err := json.Marshal(b)
	if err != nil {
		b.Schema, b.Version = prevSchema, prevVersion
		return fmt.Errorf("%s: encode: %w", what, err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	key := s.k.batch(b.ID)
	status, args, err := result(updateBatchScript.Run(ctx, s.rdb, []string{key, s.k.activeBatches()},
		b.ID, raw, prevVersion, flows.Schema, flag(!b.Ended), s.opt.Retention.Milliseconds()))
	if err != nil || status != "ok" {
		b.Schema, b.Version = prevSchema, prevVersion
	}
	switch {
	case err != nil:
		return fail(what, key, err)
	case status == "ok":
		return nil
	case status == "missing":
		return fmt.Errorf("%s: %w", what, flows.ErrBatchNotFound)
	case status == "conflict" && len(args) == 1:
		return fmt.Errorf("%s: %w (stored version %s)", what, flows.ErrConflict, args[0])
	case status == "ended":
		return fmt.Errorf("%s: %w: the batch has ended", what, flows.ErrConflict)
	case status == "corrupt" && len(args) == 1:
		return corrupt(what, args[0])
	}
	return fmt.Errorf("%s: unexpected answer %q %q", what, status, args)
}

// ActiveBatches loads the batches that have not ended.
func (s *Store) ActiveBatches(ctx context.Context) ([]*flows.Batch, error) {
	const what = "list active batches"
	ctx, cancel := s.op(ctx)
	defer cancel()
	ids, err := s.rdb.SMembers(ctx, s.k.activeBatches()).Result()
	if err != nil {
		return nil, fail(what, s.k.activeBatches(), err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ks := make([]string, len(ids))
	for i, id := range ids {
		ks[i] = s.k.batch(id)
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, fail(what, s.k.activeBatches(), err)
	}
	var out []*flows.Batch
	var errs []error
	for i, v := range vals {
		raw, ok := v.(string)
		if !ok {
			continue
		}
		b, err := decode(ks[i], ids[i], []byte(raw), func(b *flows.Batch) (int, string) { return b.Schema, b.ID })
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !b.Ended {
			out = append(out, b)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s: %w", what, errors.Join(errs...))
	}
	return out, nil
}

var _ flows.BatchStore = (*Store)(nil)
