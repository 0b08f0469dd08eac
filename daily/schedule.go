package daily

import (
	"fmt"
	"time"
)

// DayLayout is how a sweep's day is written: in the schedule's time zone.
const DayLayout = time.DateOnly

// Earliest is the earliest time of day (UTC) a sweep may be scheduled:
// after Signon's renewal at 01:00 and the sync Jobs at 01:07
// (integration), 01:09 (production) and 01:12 (staging) have had time to
// finish, so that the sweep sees what they did.
const Earliest = time.Hour + 15*time.Minute

// Schedule is a sweep's time of day, in UTC as the CronJobs' schedules are.
type Schedule struct {
	// At is the time after midnight.
	At time.Duration
}

// ParseSchedule reads "HH:MM" and refuses a time before Earliest.
func ParseSchedule(s string) (Schedule, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return Schedule{}, fmt.Errorf("sweep time %q is not HH:MM (24-hour, UTC)", s)
	}
	at := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	if at < Earliest {
		return Schedule{}, fmt.Errorf("sweep time %s is before 01:15 UTC: Signon renews internal tokens at 01:00 and the sync Jobs run until after 01:12, and a sweep before them reports what they are about to fix", s)
	}
	return Schedule{At: at}, nil
}

// String is the time as ParseSchedule reads it.
func (s Schedule) String() string {
	return time.Time{}.Add(s.At).Format("15:04")
}

// Due is the latest slot at or before now, and its day: a replica that
// was down at the slot sweeps for that day when it is back, and a day
// missed entirely is not swept on its own (the next sweep reports the
// estate as it is).
func (s Schedule) Due(now time.Time) (day string, slot time.Time) {
	now = now.UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	slot = midnight.Add(s.At)
	if slot.After(now) {
		slot = slot.AddDate(0, 0, -1)
	}
	return slot.Format(DayLayout), slot
}

// Next is the first slot after now.
func (s Schedule) Next(now time.Time) time.Time {
	_, slot := s.Due(now)
	return slot.AddDate(0, 0, 1)
}
