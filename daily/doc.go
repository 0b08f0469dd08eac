// Package daily is the daily sweep of an environment's Signon estate: once
// a day, at a configured time after Signon's 01:00 renewal of internal
// tokens and the sync Job that follows it, one replica reads Signon's
// estate report in one call, sorts what it finds by why it needs a person,
// and posts one digest. The last sweep's report is kept in Redis, where
// the App Home tab reads it.
//
// It is not the engine's Sweep, which resumes runs a replica lost.
package daily
