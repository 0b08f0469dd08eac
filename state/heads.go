package state

import (
	"context"
	"encoding/json"

	"github.com/alphagov/signon-token-bot/flows"
)

// ActiveHeads lists the heads of every active run, oldest first, as
// ActiveRuns lists the runs: the scripts that write a run write its head
// to one hash beside it, so a sweep reads and decodes a fraction of each
// record. A run whose head is missing (written by a bot from before
// heads) or does not decode is read whole instead.
func (s *Store) ActiveHeads(ctx context.Context) ([]*flows.Head, error) {
	return listActive(ctx, s, "list active runs", s.headBatch, func(h *flows.Head) *flows.Run { return &h.Run })
}

// headBatch reads the heads of ids with one HMGET, in the pipeline of an
// EXISTS of their records: if a record has gone while its head stayed
// (deleted by hand, evicted), the whole batch is read as runs, so that a
// run is listed exactly when ActiveRuns would list it.
func (s *Store) headBatch(ctx context.Context, ids []string, buf []byte) (listed[*flows.Head], []byte) {
	ks := make([]string, len(ids))
	for i, id := range ids {
		ks[i] = s.k.run(id)
	}
	opCtx, cancel := s.op(ctx)
	pipe := s.rdb.Pipeline()
	heads := pipe.HMGet(opCtx, s.k.heads(), ids...)
	exist := pipe.Exists(opCtx, ks...)
	_, err := pipe.Exec(opCtx)
	cancel()
	if err != nil {
		return listed[*flows.Head]{err: err}, buf
	}
	if exist.Val() != int64(len(ids)) {
		return s.headsFromRuns(ctx, ids, buf)
	}
	var l listed[*flows.Head]
	var whole []string
	for i, v := range heads.Val() {
		raw, ok := v.(string)
		if !ok {
			whole = append(whole, ids[i])
			continue
		}
		buf = append(buf[:0], raw...)
		h := new(flows.Head)
		if json.Unmarshal(buf, h) != nil || h.Schema != flows.Schema || h.ID != ids[i] {
			whole = append(whole, ids[i])
			continue
		}
		if h.Phase.Active() {
			l.items = append(l.items, h)
		}
	}
	if len(whole) == 0 {
		return l, buf
	}
	rest, buf := s.headsFromRuns(ctx, whole, buf)
	l.items = append(l.items, rest.items...)
	l.corrupt, l.err = rest.corrupt, rest.err
	return l, buf
}

// headsFromRuns reads the runs of ids whole and lists their heads.
func (s *Store) headsFromRuns(ctx context.Context, ids []string, buf []byte) (listed[*flows.Head], []byte) {
	runs, buf := s.runBatch(ctx, ids, buf)
	l := listed[*flows.Head]{corrupt: runs.corrupt, err: runs.err}
	for _, r := range runs.items {
		l.items = append(l.items, r.Head())
	}
	return l, buf
}

var _ flows.HeadStore = (*Store)(nil)
