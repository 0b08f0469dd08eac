// Package flowstest has test doubles for the flows' chat-side ports: a
// Notifier that keeps a run's thread in memory, a Directory and a
// Revealer. Together with the Signon double and the cluster stand-in they
// let the engine run without Slack.
package flowstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// Notifier keeps every run's thread. Its zero value is ready.
type Notifier struct {
	// Err, when set, fails every Sync: Slack unreachable.
	Err error

	mu      sync.Mutex
	seq     int
	threads map[string][]Message // by run id
	posts   int
	edits   int
}

// Message is one message of a run's thread as the Notifier holds it.
type Message struct {
	ID   string
	TS   string
	Text string
}

// Sync posts what has no receipt and edits what changed, like the Slack
// notifier, but into memory.
func (n *Notifier) Sync(ctx context.Context, run *flows.Run) (map[string]flows.Receipt, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.Err != nil {
		return nil, n.Err
	}
	if n.threads == nil {
		n.threads = map[string][]Message{}
	}
	out := map[string]flows.Receipt{}
	put := n.putter(run.ID, run.Receipts, out)
	if run.Batch != "" {
		// The batch's status message shows its runs; only the posts of
		// a run that left the batch are replies of their own.
		out[flows.StatusPostID] = flows.Receipt{Digest: "batch"}
	} else {
		put(flows.StatusPostID, Status(run))
	}
	for _, p := range run.Posts {
		if p.Quiet {
			out[p.ID] = flows.Receipt{Digest: "batch"}
			continue
		}
		put(p.ID, Render(run, p))
	}
	for id, rc := range out {
		if run.Receipts[id] == rc {
			delete(out, id)
		}
	}
	return out, nil
}

// SyncBatch keeps a batch's thread: its status, a line per run, and its
// posts, under the batch's id.
func (n *Notifier) SyncBatch(ctx context.Context, b *flows.Batch, runs []*flows.Run) (map[string]flows.Receipt, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.Err != nil {
		return nil, n.Err
	}
	if n.threads == nil {
		n.threads = map[string][]Message{}
	}
	out := map[string]flows.Receipt{}
	put := n.putter(b.ID, b.Receipts, out)
	var st strings.Builder
	fmt.Fprintf(&st, "batch %s (%d runs)", b.Environment, len(runs))
	for _, r := range runs {
		fmt.Fprintf(&st, "\n  %s [%s] %s", r.Label(), r.Outcome(), r.Step)
	}
	put(flows.BatchStatusID, st.String())
	for _, p := range b.Posts {
		text := p.Title + "\n  " + strings.Join(p.Lines, "\n  ")
		if p.Ping != "" {
			text += "\n  ping " + p.Ping
		}
		if p.Gate != "" {
			if b.Gate != nil && b.Gate.ID == p.Gate {
				text += "\n  [approve] [cancel]"
			} else if a, ok := b.Approval(p.Gate); ok {
				text += fmt.Sprintf("\n  -> %s by %s", a.Action, a.User)
			}
		}
		put(p.ID, text)
	}
	return out, nil
}

// putter posts a message of thread id that has no receipt and edits one
// that changed, under n.mu, recording the new receipts in out.
func (n *Notifier) putter(id string, receipts, out map[string]flows.Receipt) func(msgID, text string) {
	return func(msgID, text string) {
		d := digest(text)
		rc, ok := receipts[msgID]
		switch {
		case !ok:
			n.seq++
			n.posts++
			ts := fmt.Sprintf("1764144000.%06d", n.seq)
			n.threads[id] = append(n.threads[id], Message{ID: msgID, TS: ts, Text: text})
			out[msgID] = flows.Receipt{TS: ts, Digest: d}
		case rc.Digest != d:
			n.edits++
			msgs := n.threads[id]
			for i := range msgs {
				if msgs[i].ID == msgID {
					msgs[i].Text = text
				}
			}
			out[msgID] = flows.Receipt{TS: rc.TS, Digest: d}
		}
	}
}

// Thread returns a run's messages in the order they were posted.
func (n *Notifier) Thread(runID string) []Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Message(nil), n.threads[runID]...)
}

// Transcript is a run's thread as text.
func (n *Notifier) Transcript(runID string) string {
	var b strings.Builder
	for _, m := range n.Thread(runID) {
		b.WriteString(m.Text)
		b.WriteString("\n---\n")
	}
	return b.String()
}

// Calls counts the messages posted and edited.
func (n *Notifier) Calls() (posts, edits int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.posts, n.edits
}

// Status renders a run's checklist as text.
func Status(run *flows.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s]", run.Label(), run.Outcome())
	for _, s := range run.Steps {
		fmt.Fprintf(&b, "\n  %s: %s", s.Step, s.Status)
		if s.Note != "" {
			fmt.Fprintf(&b, " (%s)", s.Note)
		}
	}
	return b.String()
}

// Render renders a post as text, with the gate's buttons while it is open.
func Render(run *flows.Run, p flows.Post) string {
	var b strings.Builder
	b.WriteString(p.Title)
	for _, l := range p.Lines {
		b.WriteString("\n  " + l)
	}
	for _, l := range p.Code {
		b.WriteString("\n  | " + l)
	}
	if p.Ping != "" {
		b.WriteString("\n  ping " + p.Ping)
	}
	if p.Gate != "" {
		switch {
		case run.Gate != nil && run.Gate.ID == p.Gate && run.Gate.Expired:
			b.WriteString("\n  (expired) [reopen] [cancel]")
		case run.Gate != nil && run.Gate.ID == p.Gate:
			b.WriteString("\n ")
			for _, a := range run.Gate.Actions {
				b.WriteString(" [" + string(a) + "]")
			}
		default:
			for _, a := range run.Approvals {
				if a.GateID == p.Gate {
					fmt.Fprintf(&b, "\n  -> %s by %s", a.Action, a.User)
				}
			}
		}
	}
	return b.String()
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// Directory answers from maps. Its zero value knows nobody.
type Directory struct {
	mu     sync.Mutex
	Emails map[string]string
	Groups map[string][]string
	// Err, when set, fails every call.
	Err error
}

func (d *Directory) Email(ctx context.Context, user string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Err != nil {
		return "", d.Err
	}
	return d.Emails[user], nil
}

func (d *Directory) GroupMembers(ctx context.Context, group string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Err != nil {
		return nil, d.Err
	}
	return d.Groups[group], nil
}

// SetErr fails every call with err from now on (nil: none).
func (d *Directory) SetErr(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Err = err
}

// SetGroup replaces a user group's members, as an admin editing the group
// in Slack would while runs are open.
func (d *Directory) SetGroup(group string, members ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Groups == nil {
		d.Groups = map[string][]string{}
	}
	d.Groups[group] = members
}

// Revealer records which fingerprints were revealed to whom. It keeps no
// plaintext.
type Revealer struct {
	mu       sync.Mutex
	revealed []Reveal
}

// Reveal is one private hand-off.
type Reveal struct {
	RunID       string
	Handle      any
	Fingerprint token.Fingerprint
}

func (r *Revealer) Reveal(ctx context.Context, handle any, run *flows.Run, s token.Secret) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revealed = append(r.revealed, Reveal{RunID: run.ID, Handle: handle, Fingerprint: s.Fingerprint()})
	return nil
}

// Revealed lists the hand-offs so far.
func (r *Revealer) Revealed() []Reveal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Reveal(nil), r.revealed...)
}

// JSON is a debugging aid: a run as indented JSON.
func JSON(run *flows.Run) string {
	b, _ := json.MarshalIndent(run, "", "  ")
	return string(b)
}

var (
	_ flows.Notifier  = (*Notifier)(nil)
	_ flows.Directory = (*Directory)(nil)
	_ flows.Revealer  = (*Revealer)(nil)
)
