package flows

import (
	"testing"
	"time"
)

// TestSpanRoundsToTheNearestUnit: countdowns round, never truncate, and
// under two weeks show the hours beside the days.
func TestSpanRoundsToTheNearestUnit(t *testing.T) {
	const day = 24 * time.Hour
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "less than a minute"},
		{29 * time.Second, "less than a minute"},
		{30 * time.Second, "1 minute"},
		{90 * time.Second, "2 minutes"},
		{45 * time.Minute, "45 minutes"},
		{59*time.Minute + 29*time.Second, "59 minutes"},
		{59*time.Minute + 30*time.Second, "1 hour"},
		{89 * time.Minute, "1 hour"},
		{90 * time.Minute, "2 hours"},
		{47*time.Hour + 29*time.Minute, "47 hours"},
		{47*time.Hour + 30*time.Minute, "2 days"},
		{2*day + 11*time.Hour + 40*time.Minute, "2 days 12 hours"},
		{8*day + 23*time.Hour, "8 days 23 hours"},
		{8*day + 23*time.Hour + 31*time.Minute, "9 days"},
		{9 * day, "9 days"},
		{13*day + 23*time.Hour + 29*time.Minute, "13 days 23 hours"},
		{13*day + 23*time.Hour + 30*time.Minute, "14 days"},
		{20*day + 11*time.Hour, "20 days"},
		{20*day + 12*time.Hour, "21 days"},
		{-(8*day + 23*time.Hour), "8 days 23 hours"},
	} {
		if got := Span(c.d); got != c.want {
			t.Errorf("Span(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
