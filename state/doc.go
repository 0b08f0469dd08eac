// Package state keeps the bot's state in Redis, so that any replica can
// serve any Slack envelope and a restarted bot resumes where it stopped.
// Store implements flows.Store, flows.OfferStore and flows.Deduper on a
// redis.UniversalClient: standalone, Sentinel or Cluster.
//
// Keys, for the default prefix "stb" (the hash tag {stb} keeps the keys a
// script touches together in one Cluster slot):
//
//	stb:{stb}:run:<id>                   run record (JSON)      no TTL while active, then Retention
//	stb:{stb}:lock:<env>:<user>:<app>    id of the active run   deleted when the run ends
//	stb:{stb}:active                     set of active run ids  index for listing, no KEYS
//	stb:{stb}:heads                      hash: id → run's head  an active run's head (flows.Head), for sweeps
//	stb:{stb}:thread:<channel>:<ts>      zset of run ids        no TTL while a run in it is active
//	stb:{stb}:audit:<run id>             stream: run's trail    lives as long as its run
//	stb:{stb}:audit                      stream: every entry    capped, Retention after last entry
//	stb:{stb}:offer:<id>                 offer record (JSON)    Retention after last write
//	stb:{stb}:alert:<channel>:<ts>       the alert's offer id   as its offer
//	stb:{stb}:offers:<env>:<user>:<app>  zset of offer ids      Retention after its last offer's write
//	stb:{stb}:sweep:<env>                the last daily sweep   no TTL, replaced daily
//	stb:{stb}:sweep-lease:<env>          the sweeping replica   the lease's ttl
//	stb:{stb}:home-viewers               zset: Home tab openers 24h after the last opening
//	stb:lease:<run id>                   lease holder           the lease's ttl
//	stb:once:<key>                       de-duplication mark    at least MinOnceTTL
//	stb:owner:<pod name>                 the process holding it the lease's ttl, renewed
//
// Records are versioned. Every write of a run or offer is a Lua script
// that compares the version, checks every key before its first write, and
// does the whole change or none of it. A record that is not JSON of
// flows.Schema is reported as a *flows.CorruptError and never overwritten.
//
// Records hold fingerprints of tokens, never a token: flows.Run has no
// field for one, and token.Secret refuses to be marshalled.
//
// Every call is bounded by Options.OpTimeout and fails with an error
// wrapping flows.ErrUnavailable when Redis does not answer; the client
// reconnects by itself, so the Store works again when Redis is back.
// Build the client with TuneClient's options, or a frozen Redis holds a
// call for the client's socket timeouts instead.
package state
