package state

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/alphagov/signon-token-bot/flows"
)

// keys names every key. Keys that a script touches together carry the
// hash tag {<prefix>} so that they share a Redis Cluster slot; the bot
// keeps a few hundred records, so one slot costs nothing. Dedup marks and
// leases are touched alone and carry no tag.
type keys struct {
	plain  string // "stb:"
	tagged string // "stb:{stb}:"
}

func newKeys(prefix string) keys {
	return keys{plain: prefix + ":", tagged: prefix + ":{" + prefix + "}:"}
}

func (k keys) run(id string) string { return k.tagged + "run:" + id }

func (k keys) lock(key flows.Key) string {
	return k.tagged + "lock:" + part(key.Environment) + ":" + part(key.APIUser) + ":" + part(key.Application)
}

func (k keys) active() string { return k.tagged + "active" }

// heads holds each active run's head (flows.Head) by run id, written by
// the scripts that write the run.
func (k keys) heads() string { return k.tagged + "heads" }

func (k keys) thread(t flows.Thread) string {
	return k.tagged + "thread:" + part(t.Channel) + ":" + part(t.TS)
}

func (k keys) runAudit(runID string) string { return k.tagged + "audit:" + runID }

func (k keys) audit() string { return k.tagged + "audit" }

func (k keys) offer(id string) string { return k.tagged + "offer:" + id }

func (k keys) alert(t flows.Thread) string {
	return k.tagged + "alert:" + part(t.Channel) + ":" + part(t.TS)
}

// unposted indexes the offers recorded but not yet seen in Slack, by
// creation time.
func (k keys) unposted() string { return k.tagged + "offers:unposted" }

func (k keys) offersFor(key flows.Key) string {
	return k.tagged + "offers:" + part(key.Environment) + ":" + part(key.APIUser) + ":" + part(key.Application)
}

func (k keys) batch(id string) string { return k.tagged + "batch:" + id }

func (k keys) activeBatches() string { return k.tagged + "batches:active" }

func (k keys) lease(runID string) string { return k.plain + "lease:" + runID }

func (k keys) once(key string) string { return k.plain + "once:" + key }

func (k keys) name(owner string) string { return k.plain + "owner:" + owner }

// The daily sweep's lease and its last record are written together, so
// both carry the tag.
func (k keys) sweepLease(env string) string { return k.tagged + "sweep-lease:" + part(env) }

func (k keys) sweep(env string) string { return k.tagged + "sweep:" + part(env) }

// part escapes a user-supplied component so that no two different
// components make the same key, while an email or a channel id stays
// readable in redis-cli.
func part(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(":%{}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Ids become part of keys unescaped (the create script builds a run key
// from the id in a lock), so they are restricted instead.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func validID(kind, id string) error {
	if !idPattern.MatchString(id) {
		// The id is not echoed: a forged value may hold anything.
		return fmt.Errorf("%w: a %s id is 1 to 128 of A-Z a-z 0-9 . _ - (got %d bytes)", flows.ErrBadInput, kind, len(id))
	}
	return nil
}
