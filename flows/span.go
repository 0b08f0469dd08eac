package flows

import (
	"fmt"
	"time"
)

// spanDaysAndHours is how far ahead a countdown shows hours beside days:
// across the two weeks in which the expiry alert fires, 8 days 23 hours
// is nearly 9 days, and "8 days" would hide it.
const spanDaysAndHours = 14 * 24 * time.Hour

// Span says a duration in words, rounded to the nearest unit that
// matters: "45 minutes", "1 hour", "8 days 23 hours" (under two weeks),
// "20 days". Expiry countdowns and "ago"s use it.
func Span(d time.Duration) string {
	d = d.Abs()
	switch {
	case d < 30*time.Second:
		return "less than a minute"
	case d.Round(time.Minute) < time.Hour:
		return count(int(d.Round(time.Minute)/time.Minute), "minute")
	case d.Round(time.Hour) < 48*time.Hour:
		return count(int(d.Round(time.Hour)/time.Hour), "hour")
	case d.Round(time.Hour) < spanDaysAndHours:
		h := int(d.Round(time.Hour) / time.Hour)
		if h%24 == 0 {
			return count(h/24, "day")
		}
		return count(h/24, "day") + " " + count(h%24, "hour")
	}
	return count(int(d.Round(24*time.Hour)/(24*time.Hour)), "day")
}

func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
