package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
)

// offersPerKey is how many offers the per-key index remembers: enough for
// the daily alerts of a token's last weeks.
const offersPerKey = 32

// CreateOffer stores a new offer at version 1, indexed by its alert
// message and by each item's key, with the retention as its lifetime.
func (s *Store) CreateOffer(ctx context.Context, o *flows.Offer) error {
	if o == nil {
		return fmt.Errorf("create offer: %w: no offer", flows.ErrBadInput)
	}
	if err := validID("offer", o.ID); err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	what := "create offer " + o.ID
	if o.Alert.Channel == "" || o.Alert.TS == "" {
		return fmt.Errorf("%s: %w: an offer needs its alert's channel and ts", what, flows.ErrBadInput)
	}
	prevSchema, prevVersion := o.Schema, o.Version
	o.Schema, o.Version = flows.Schema, 1
	raw, err := json.Marshal(o)
	if err != nil {
		o.Schema, o.Version = prevSchema, prevVersion
		return fmt.Errorf("%s: encode: %w", what, err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	status, args, err := result(createOfferScript.Run(ctx, s.rdb, s.offerKeys(o),
		o.ID, raw, s.opt.Retention.Milliseconds(), o.CreatedAt.UnixMilli(), offersPerKey, flag(len(o.Messages) == 0)))
	if err != nil || status != "ok" {
		o.Schema, o.Version = prevSchema, prevVersion
	}
	switch {
	case err != nil:
		return fail(what, s.k.offer(o.ID), err)
	case status == "ok":
		return nil
	case status == "exists":
		return fmt.Errorf("%s: %w: an offer with this id exists", what, flows.ErrConflict)
	case status == "answered" && len(args) == 1:
		return fmt.Errorf("%s: %w", what, &flows.OfferExistsError{OfferID: args[0]})
	case status == "corrupt" && len(args) == 1:
		return corrupt(what, args[0])
	}
	return fmt.Errorf("%s: unexpected answer %q %q", what, status, args)
}

// offerKeys are the keys the offer scripts touch: the offer, its alert's
// index, and the index of each distinct item key.
func (s *Store) offerKeys(o *flows.Offer) []string {
	ks := []string{s.k.offer(o.ID), s.k.alert(o.Alert), s.k.unposted()}
	seen := map[flows.Key]bool{}
	for _, it := range o.Items {
		if !seen[it.Key] {
			seen[it.Key] = true
			ks = append(ks, s.k.offersFor(it.Key))
		}
	}
	return ks
}

// Offer loads an offer.
func (s *Store) Offer(ctx context.Context, id string) (*flows.Offer, error) {
	if err := validID("offer", id); err != nil {
		return nil, fmt.Errorf("load offer: %w", err)
	}
	what, key := "load offer "+id, s.k.offer(id)
	ctx, cancel := s.op(ctx)
	defer cancel()
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s: %w", what, flows.ErrOfferNotFound)
	}
	if err != nil {
		return nil, fail(what, key, err)
	}
	o, err := decodeOffer(key, id, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return o, nil
}

func decodeOffer(key, id string, raw []byte) (*flows.Offer, error) {
	return decode(key, id, raw, func(o *flows.Offer) (int, string) { return o.Schema, o.ID })
}

// OfferForAlert finds the offer that answered an alert message.
func (s *Store) OfferForAlert(ctx context.Context, channel, ts string) (*flows.Offer, error) {
	t := flows.Thread{Channel: channel, TS: ts}
	what := "offer for alert " + channel + "/" + ts
	if channel == "" || ts == "" {
		return nil, fmt.Errorf("%s: %w: an alert needs a channel and a ts", what, flows.ErrBadInput)
	}
	opCtx, cancel := s.op(ctx)
	defer cancel()
	id, err := s.rdb.Get(opCtx, s.k.alert(t)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s: %w", what, flows.ErrOfferNotFound)
	}
	if err != nil {
		return nil, fail(what, s.k.alert(t), err)
	}
	return s.Offer(ctx, id)
}

// OfferForKey finds the newest offer with an item for key that is not
// Resolved. A corrupt record met before it is reported rather than
// skipped, since it may have been the one.
func (s *Store) OfferForKey(ctx context.Context, key flows.Key) (*flows.Offer, error) {
	what := "offer for " + key.String()
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	ids, err := s.rdb.ZRevRange(ctx, s.k.offersFor(key), 0, -1).Result()
	if err != nil {
		return nil, fail(what, s.k.offersFor(key), err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s: %w", what, flows.ErrOfferNotFound)
	}
	ks := make([]string, len(ids))
	for i, id := range ids {
		ks[i] = s.k.offer(id)
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, fail(what, s.k.offersFor(key), err)
	}
	for i, v := range vals {
		raw, ok := v.(string)
		if !ok {
			continue // expired; the index forgets it later
		}
		o, err := decodeOffer(ks[i], ids[i], []byte(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if !o.Resolved {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", what, flows.ErrOfferNotFound)
}

// UpdateOffer writes o if the stored version is o.Version, bumps
// o.Version, and renews the offer's lifetime. Its alert is fixed.
func (s *Store) UpdateOffer(ctx context.Context, o *flows.Offer) error {
	if o == nil {
		return fmt.Errorf("update offer: %w: no offer", flows.ErrBadInput)
	}
	if err := validID("offer", o.ID); err != nil {
		return fmt.Errorf("update offer: %w", err)
	}
	what := fmt.Sprintf("update offer %s at version %d", o.ID, o.Version)
	if o.Version < 1 {
		return fmt.Errorf("%s: %w: a stored offer has version 1 or more", what, flows.ErrBadInput)
	}
	prevSchema, prevVersion := o.Schema, o.Version
	o.Schema, o.Version = flows.Schema, prevVersion+1
	raw, err := json.Marshal(o)
	if err != nil {
		o.Schema, o.Version = prevSchema, prevVersion
		return fmt.Errorf("%s: encode: %w", what, err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	status, args, err := result(updateOfferScript.Run(ctx, s.rdb, s.offerKeys(o),
		o.ID, raw, prevVersion, flows.Schema, s.opt.Retention.Milliseconds(), o.CreatedAt.UnixMilli(),
		o.Alert.Channel, o.Alert.TS, flag(len(o.Messages) == 0)))
	if err != nil || status != "ok" {
		o.Schema, o.Version = prevSchema, prevVersion
	}
	switch {
	case err != nil:
		return fail(what, s.k.offer(o.ID), err)
	case status == "ok":
		return nil
	case status == "missing":
		return fmt.Errorf("%s: %w", what, flows.ErrOfferNotFound)
	case status == "conflict" && len(args) == 1:
		return fmt.Errorf("%s: %w (stored version %s)", what, flows.ErrConflict, args[0])
	case status == "alert":
		return fmt.Errorf("%s: %w: an offer's alert cannot change", what, flows.ErrBadInput)
	case status == "corrupt" && len(args) == 1:
		return corrupt(what, args[0])
	}
	return fmt.Errorf("%s: unexpected answer %q %q", what, status, args)
}

// UnpostedOffers lists the offers created before the given time that
// never reached Slack (the bot stopped between recording and posting),
// oldest first. Offers whose record has expired leave the index.
func (s *Store) UnpostedOffers(ctx context.Context, before time.Time) ([]*flows.Offer, error) {
	const what = "list unposted offers"
	ctx, cancel := s.op(ctx)
	defer cancel()
	key := s.k.unposted()
	max := strconv.FormatInt(before.UnixMilli(), 10)
	ids, err := s.rdb.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: "-inf", Max: max, Count: 100}).Result()
	if err != nil {
		return nil, fail(what, key, err)
	}
	var out []*flows.Offer
	var errs []error
	for _, id := range ids {
		o, err := s.Offer(ctx, id)
		switch {
		case errors.Is(err, flows.ErrOfferNotFound):
			if err := s.rdb.ZRem(ctx, key, id).Err(); err != nil {
				return out, fail(what, key, err)
			}
		case err != nil:
			errs = append(errs, err)
		case len(o.Messages) == 0:
			out = append(out, o)
		}
	}
	return out, errors.Join(errs...)
}
