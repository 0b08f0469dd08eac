package state_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

func newOffer(id, channel, ts string, keys ...flows.Key) *flows.Offer {
	o := &flows.Offer{
		ID: id, Alert: flows.Thread{Channel: channel, TS: ts}, Environment: flows.Production,
		CreatedAt: t0, UpdatedAt: t0,
	}
	for _, k := range keys {
		o.Items = append(o.Items, flows.OfferItem{
			ID: id + "-" + k.APIUser, Key: k,
			Assessment: flows.Assessment{Key: k, APIUserName: "Publisher", ApplicationName: "Publishing API",
				Current: &flows.Token{ID: 7, CreatedAt: t0.AddDate(-1, 0, 0), ExpiresAt: t0.AddDate(0, 0, 7)}},
		})
	}
	return o
}

func TestOffersAreFoundByAlertAndByKey(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	raw := srv.Client()
	const retention = 2 * time.Hour
	s := newStore(t, srv.Client(), state.Options{Retention: retention})
	k1, k2 := testKey(1), testKey(2)

	first := newOffer("offer-1", "C0ALERTS", "100.1", k1, k2)
	if err := s.CreateOffer(ctx, first); err != nil {
		t.Fatalf("CreateOffer: %v", err)
	}
	if first.Version != 1 || first.Schema != flows.Schema {
		t.Fatalf("after CreateOffer version %d schema %d", first.Version, first.Schema)
	}
	got, err := s.OfferForAlert(ctx, "C0ALERTS", "100.1")
	if err != nil || !reflect.DeepEqual(got, first) {
		t.Fatalf("OfferForAlert = %+v, %v; want %+v", got, err, first)
	}
	for _, k := range []flows.Key{k1, k2} {
		if got, err := s.OfferForKey(ctx, k); err != nil || got.ID != "offer-1" {
			t.Fatalf("OfferForKey(%v) = %v, %v; want offer-1", k, got, err)
		}
	}
	// Everything about an offer expires.
	for _, k := range allKeys(t, raw) {
		assertTTL(t, raw, k, retention)
	}

	// The same alert again (a replayed message event) finds the first offer.
	dup := newOffer("offer-dup", "C0ALERTS", "100.1", k1)
	var oe *flows.OfferExistsError
	if err := s.CreateOffer(ctx, dup); !errors.As(err, &oe) || oe.OfferID != "offer-1" {
		t.Fatalf("CreateOffer for an answered alert: %v, want OfferExistsError naming offer-1", err)
	}
	if _, err := s.Offer(ctx, "offer-dup"); !errors.Is(err, flows.ErrOfferNotFound) {
		t.Fatalf("the refused offer was stored: %v", err)
	}

	// Tomorrow's alert makes a newer offer for k1.
	second := newOffer("offer-2", "C0ALERTS", "200.1", k1)
	second.CreatedAt = t0.Add(24 * time.Hour)
	if err := s.CreateOffer(ctx, second); err != nil {
		t.Fatal(err)
	}
	if got, err := s.OfferForKey(ctx, k1); err != nil || got.ID != "offer-2" {
		t.Fatalf("OfferForKey(k1) = %v, %v; want the newer offer-2", got, err)
	}
	second.Resolved = true
	if err := s.UpdateOffer(ctx, second); err != nil {
		t.Fatal(err)
	}
	if got, err := s.OfferForKey(ctx, k1); err != nil || got.ID != "offer-1" {
		t.Fatalf("OfferForKey(k1) after offer-2 resolved = %v, %v; want offer-1", got, err)
	}
	first.Resolved = true
	if err := s.UpdateOffer(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OfferForKey(ctx, k1); !errors.Is(err, flows.ErrOfferNotFound) {
		t.Fatalf("OfferForKey with every offer resolved: %v, want ErrOfferNotFound", err)
	}
	if _, err := s.OfferForKey(ctx, testKey(3)); !errors.Is(err, flows.ErrOfferNotFound) {
		t.Fatalf("OfferForKey of a key never offered: %v, want ErrOfferNotFound", err)
	}
	if _, err := s.OfferForAlert(ctx, "C0ALERTS", "300.1"); !errors.Is(err, flows.ErrOfferNotFound) {
		t.Fatalf("OfferForAlert of an unanswered alert: %v, want ErrOfferNotFound", err)
	}
}

func TestUpdateOfferIsCompareAndSet(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	if err := s.CreateOffer(ctx, newOffer("offer-1", "C0ALERTS", "100.1", testKey(1))); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Offer(ctx, "offer-1")
	b, _ := s.Offer(ctx, "offer-1")
	a.Items[0].RunID = "run-a"
	b.Items[0].IgnoredBy = "U0B"
	if err := s.UpdateOffer(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateOffer(ctx, b); !errors.Is(err, flows.ErrConflict) || b.Version != 1 {
		t.Fatalf("stale UpdateOffer: %v (version %d), want ErrConflict and version 1", err, b.Version)
	}
	got, _ := s.Offer(ctx, "offer-1")
	if got.Version != 2 || got.Items[0].RunID != "run-a" || got.Items[0].IgnoredBy != "" {
		t.Fatalf("stored offer %+v, want a's write only", got.Items[0])
	}
	before := raw.Get(ctx, "stb:{stb}:offer:offer-1").Val()
	got.Alert.TS = "999.9"
	if err := s.UpdateOffer(ctx, got); !errors.Is(err, flows.ErrBadInput) {
		t.Fatalf("moving an offer to another alert: %v, want ErrBadInput", err)
	}
	if raw.Get(ctx, "stb:{stb}:offer:offer-1").Val() != before {
		t.Fatal("a refused UpdateOffer changed the record")
	}
	missing := newOffer("offer-9", "C0ALERTS", "900.1", testKey(1))
	missing.Version = 1
	if err := s.UpdateOffer(ctx, missing); !errors.Is(err, flows.ErrOfferNotFound) {
		t.Fatalf("UpdateOffer of an offer never created: %v, want ErrOfferNotFound", err)
	}
}
