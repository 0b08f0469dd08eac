package state

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/alphagov/signon-token-bot/flows"
)

// listBatch is how many runs one read of ActiveRuns or ActiveHeads loads.
const listBatch = 500

// listReaders is how many batches are read at once: enough to keep Redis
// sending while the bot decodes, few enough to leave the pool's
// connections to the drives.
const listReaders = 4

// ActiveRuns loads every run in the active set, oldest first: one SMEMBERS,
// then MGETs of listBatch runs, listReaders of them at once, each decoded
// as it arrives. A bot listing 10,000 runs thus decodes one batch while
// Redis sends the next, on as many cores as it has, and each batch has
// its own OpTimeout: one deadline over the whole list would fail a
// start-up on a busy host once the list outgrew it.
func (s *Store) ActiveRuns(ctx context.Context) ([]*flows.Run, error) {
	return listActive(ctx, s, "list active runs", s.runBatch, func(r *flows.Run) *flows.Run { return r })
}

// listed is one batch of a listing: its active runs, the records that did
// not decode, or the error that kept it from being read.
type listed[T any] struct {
	items   []T
	corrupt []error
	err     error
}

// listActive reads the active set's ids in batches of listBatch,
// listReaders at once, and sorts what read returns by creation.
func listActive[T any](ctx context.Context, s *Store, what string,
	read func(ctx context.Context, ids []string, buf []byte) (listed[T], []byte), run func(T) *flows.Run) ([]T, error) {
	opCtx, cancel := s.op(ctx)
	ids, err := s.rdb.SMembers(opCtx, s.k.active()).Result()
	cancel()
	if err != nil {
		return nil, fail(what, s.k.active(), err)
	}
	batches := slices.Collect(slices.Chunk(ids, listBatch))
	got := make([]listed[T], len(batches))
	next := make(chan int, len(batches))
	for b := range batches {
		next <- b
	}
	close(next)
	var wg sync.WaitGroup
	for range min(listReaders, len(batches)) {
		wg.Go(func() {
			var buf []byte
			for b := range next {
				if ctx.Err() != nil {
					got[b].err = ctx.Err()
					continue
				}
				got[b], buf = read(ctx, batches[b], buf)
			}
		})
	}
	wg.Wait()
	out := make([]T, 0, len(ids))
	var errs []error
	for _, l := range got {
		if l.err != nil {
			return nil, fail(what, s.k.active(), l.err)
		}
		out = append(out, l.items...)
		errs = append(errs, l.corrupt...)
	}
	slices.SortFunc(out, func(a, b T) int {
		ra, rb := run(a), run(b)
		return cmp.Or(ra.CreatedAt.Compare(rb.CreatedAt), cmp.Compare(ra.ID, rb.ID))
	})
	if len(errs) > 0 {
		return out, fmt.Errorf("%s: %w", what, errors.Join(errs...))
	}
	return out, nil
}

// runBatch reads and decodes the runs of ids with one MGET. buf is
// reused from batch to batch: go-redis hands back strings, and a fresh
// []byte for each of thousands of records costs as much again as reading
// them.
func (s *Store) runBatch(ctx context.Context, ids []string, buf []byte) (listed[*flows.Run], []byte) {
	ks := make([]string, len(ids))
	for i, id := range ids {
		ks[i] = s.k.run(id)
	}
	opCtx, cancel := s.op(ctx)
	vals, err := s.rdb.MGet(opCtx, ks...).Result()
	cancel()
	if err != nil {
		return listed[*flows.Run]{err: err}, buf
	}
	var l listed[*flows.Run]
	for i, v := range vals {
		raw, ok := v.(string)
		if !ok {
			continue // gone since SMEMBERS, or a lock whose run was deleted
		}
		buf = append(buf[:0], raw...)
		run, err := decodeRun(ks[i], ids[i], buf)
		if err != nil {
			l.corrupt = append(l.corrupt, err)
			continue
		}
		if run.Phase.Active() {
			l.items = append(l.items, run)
		}
	}
	return l, buf
}
