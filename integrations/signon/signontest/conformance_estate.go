package signontest

import (
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// estateBehaviours hold the daily sweep's report to Signon's rules: the
// sync job's choice, the renewal task's idea of internal and of newer,
// and the sweep's idea of superseded.
func estateBehaviours() []behaviour {
	const partner = "feed@partner.example.com"
	return []behaviour{
		{"estate reports each pair's synced token, its superseded tokens, who is internal and the last check-in", func(t *testing.T, w World, s *seen) {
			now := w.Now().Truncate(time.Second)
			w.AddAPIUser("Partner Feed", partner)
			old, oldSecret := w.AddToken(shortURL, pubAPI, now.Add(10*day-twoYears), twoYears)
			s.add(oldSecret)
			w.AutoRenew() // renews old: it becomes superseded
			w.AddToken(partner, pubAPI, now.Add(5*day-twoYears), twoYears)
			synced := now.Add(-2 * time.Hour)
			w.SetLastSynced(partner, pubAPI, synced)
			blocked, _ := w.AddToken(tagger, search, now.Add(12*day-twoYears), twoYears)
			blocker, _ := w.AddToken(tagger, search, now.Add(-day), twoYears)
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: tagger, Application: search, TokenID: blocker.ID, Initiator: admin}))(t)
			w.AddToken(tagger, store, now.Add(40*day-twoYears), twoYears)          // outside the window
			w.AddToken(shortURL, search, now.Add(-5*day-twoYears), twoYears)       // expired: not superseded
			w.AddToken(shortURL, search, now.Add(-time.Hour), twoYears)            // synced, far off
			revoked, _ := w.AddToken(shortURL, store, now.Add(-300*day), twoYears) // revoked: not superseded
			w.AddToken(shortURL, store, now.Add(-time.Hour), twoYears)
			must(w.Revoke(ctx(t), flows.RevokeRequest{RunID: newRun(), Email: shortURL, Application: store, TokenID: revoked.ID, Initiator: admin}))(t)

			est := must(w.Estate(ctx(t), 30*day))(t)
			if est.Within != 30*day || est.Now.Sub(now) < 0 || est.Now.Sub(now) > time.Hour {
				t.Errorf("estate now %v within %v, want about %v and 30 days", est.Now, est.Within, now)
			}
			var got []string
			for _, p := range est.Pairs {
				got = append(got, p.User.Email+" "+p.Application.Name)
			}
			want := []string{partner + " " + pubAPI, tagger + " " + search, shortURL + " " + pubAPI}
			if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
				t.Fatalf("estate pairs %q, want %q (soonest first)", got, want)
			}
			ext, renew, sup := est.Pairs[0], est.Pairs[1], est.Pairs[2]
			if ext.Internal || !ext.Synced || !ext.LastSyncedAt.Equal(synced) || len(ext.Superseded) != 0 || ext.RenewalBlocker != 0 {
				t.Errorf("external pair = %+v, want external, synced, checked in at %v", ext, synced)
			}
			if !renew.Internal || renew.Token.ID != blocked.ID || renew.RenewalBlocker != blocker.ID || !renew.RenewalDue(now) {
				t.Errorf("blocked pair = %+v, want internal, token %d, blocked by %d", renew, blocked.ID, blocker.ID)
			}
			if !sup.Internal || sup.Token.ID == old.ID || sup.Token.ExpiresAt.Sub(sup.Token.CreatedAt) != twoYears || sup.RenewalDue(now) {
				t.Errorf("renewed pair = %+v, want the renewal's two-year token synced", sup)
			}
			if len(sup.Superseded) != 1 || sup.Superseded[0].ID != old.ID || sup.Superseded[0].Fingerprint != oldSecret.Fingerprint() {
				t.Errorf("superseded = %+v, want token %d", sup.Superseded, old.ID)
			}
			if wider := must(w.Estate(ctx(t), 60*day))(t); len(wider.Pairs) != 4 {
				t.Errorf("a 60-day estate has %d pairs, want 4 (the 40-day token too)", len(wider.Pairs))
			}
		}},
		{"estate marks pairs the sync skips, and leaves out a suspended user's revoked tokens", func(t *testing.T, w World, _ *seen) {
			now := w.Now().Truncate(time.Second)
			w.AddToken(shortURL, search, now.Add(10*day-twoYears), twoYears)
			w.RetireApplication(search)
			w.AddToken(tagger, pubAPI, now.Add(10*day-twoYears), twoYears)
			w.Suspend(tagger)
			est := must(w.Estate(ctx(t), 30*day))(t)
			if len(est.Pairs) != 1 {
				t.Fatalf("estate = %+v, want only the retired application's pair", est.Pairs)
			}
			if p := est.Pairs[0]; p.Synced || !p.Application.Retired || p.User.Email != shortURL {
				t.Errorf("retired pair = %+v, want not synced", p)
			}
		}},
		{"estate refuses a window out of range", func(t *testing.T, w World, s *seen) {
			for _, bad := range []time.Duration{0, -day, 21 * 366 * day} {
				refused(t, w, s, flows.ErrBadInput, signon.KindBadInput, func() error { _, err := w.Estate(ctx(t), bad); return err })
			}
		}},
	}
}
