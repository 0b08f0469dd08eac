// Package signonlite runs signon-lite, the minimal Rails app beside this
// file that has Signon's schema and model surface, so that the bot's Ruby
// script can be tested under a real `rails runner`. It gives each test its
// own database on the test process's MariaDB (mariadb.go), a Runner that
// starts processes on this machine the way the signon container would, and
// world-building methods that write rows directly (booting Rails for every
// row would be slow).
package signonlite

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// Dir is signon-lite's Rails root.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Ruby is the ruby that has Rails 6.1, Doorkeeper 5.5 and mysql2, from
// SIGNON_BOT_RUBY. Without it the test is skipped, or fails under CI.
func Ruby(t testing.TB) string {
	t.Helper()
	ruby := os.Getenv("SIGNON_BOT_RUBY")
	if ruby == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SIGNON_BOT_RUBY is not set: run `make test`")
		}
		t.Skip("SIGNON_BOT_RUBY is not set: run `make test` (or eval \"$(scripts/test-deps.sh)\")")
	}
	return ruby
}

// Lite is one signon-lite database and the means to fill and inspect it.
// It implements signontest's world-building methods.
type Lite struct {
	t      testing.TB
	ruby   string
	socket string
	db     string
	tmp    string

	mu  sync.Mutex
	sql *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// databases numbers the test process's databases.
var databases atomic.Int64

// Start makes an empty signon-lite database for t, with Signon's schema. It
// is dropped when the test ends.
func Start(t testing.TB) *Lite {
	t.Helper()
	ruby := Ruby(t)
	srv := sharedServer(t)
	l := &Lite{t: t, ruby: ruby, socket: srv.socket, db: fmt.Sprintf("signon_lite_%d", databases.Add(1)), tmp: t.TempDir()}
	l.sql = exec.Command(l.ruby, filepath.Join(Dir(), "bin", "sql"), l.socket, l.db)
	l.sql.Stderr = os.Stderr
	var err error
	if l.in, err = l.sql.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := l.sql.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	l.out = bufio.NewReader(stdout)
	if err := l.sql.Start(); err != nil {
		t.Fatalf("start signon-lite's bin/sql: %v", err)
	}
	t.Cleanup(func() {
		l.do(map[string]any{"batch": "DROP DATABASE " + l.db})
		_ = l.in.Close()
		_ = l.sql.Wait()
	})
	schema, err := os.ReadFile(filepath.Join(Dir(), "db", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	l.do(map[string]any{"batch": string(schema)})
	return l
}

// Runner starts processes in signon-lite's directory with the environment
// the signon container would give them.
func (l *Lite) Runner() *Runner {
	return &Runner{Dir: Dir(), Env: l.Env()}
}

// Env is what a process running signon-lite needs besides the usual:
// Signon's production environment (GOV.UK's Ruby image and Signon's
// Deployment set the same), this database, and GOV.UK's ruby wrapper first
// on PATH, in front of the right ruby.
func (l *Lite) Env() []string {
	path := filepath.Dir(l.ruby) + string(os.PathListSeparator) + os.Getenv("PATH")
	return []string{
		"RAILS_ENV=production",
		"RAILS_LOG_TO_STDOUT=1",
		"GOVUK_RAILS_JSON_LOGGING=true",
		"ENABLE_OPEN_TELEMETRY=true",
		"TZ=Europe/London",
		"DATABASE_URL=mysql2://root@localhost/" + l.db + "?socket=" + l.socket,
		"TMPDIR=" + l.tmp,
		"TMPDIR_FOR_RUBY_ORIGINAL_PATH=" + path,
		"PATH=" + filepath.Join(Dir(), "wrappers") + string(os.PathListSeparator) + path,
	}
}

// Runner runs a command on this machine as the signon container would:
// in the app's directory, with its environment. It satisfies signon.Runner.
type Runner struct {
	Dir string
	Env []string
	// Exited, if set, is told how each process ended; its rusage holds the
	// peak RSS (Maxrss, in KiB on Linux).
	Exited func(*os.ProcessState)
}

// Run starts the command and waits. When ctx ends, the whole process group
// is killed, as deleting the exec session would.
func (r *Runner) Run(ctx context.Context, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(command) == 0 {
		return errors.New("signonlite: empty command")
	}
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), r.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if r.Exited != nil && cmd.ProcessState != nil {
		r.Exited(cmd.ProcessState)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return exitError{status: exit.ExitCode()}
	}
	return err
}

// exitError is a non-zero exit, reported as the Kubernetes exec client
// reports one.
type exitError struct{ status int }

func (e exitError) Error() string {
	return fmt.Sprintf("command terminated with exit code %d", e.status)
}
func (e exitError) ExitStatus() int { return e.status }

type answer struct {
	Rows    [][]any  `json:"rows"`
	Columns []string `json:"columns"`
	ID      int64    `json:"id"`
	Error   string   `json:"error"`
}

func (l *Lite) do(request map[string]any) answer {
	l.t.Helper()
	line, err := json.Marshal(request)
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.in.Write(append(line, '\n')); err != nil {
		l.t.Fatalf("signon-lite sql: %v", err)
	}
	reply, err := l.out.ReadBytes('\n')
	if err != nil {
		l.t.Fatalf("signon-lite sql: %v", err)
	}
	var a answer
	if err := json.Unmarshal(reply, &a); err != nil {
		l.t.Fatalf("signon-lite sql: %v", err)
	}
	if a.Error != "" {
		l.t.Fatalf("signon-lite sql %v: %s", request["sql"], a.Error)
	}
	return a
}

func (l *Lite) exec(sql string, args ...any) answer {
	l.t.Helper()
	if args == nil {
		args = []any{}
	}
	return l.do(map[string]any{"sql": sql, "args": args})
}

// one returns the single value of a one-row, one-column query, or nil.
func (l *Lite) one(sql string, args ...any) any {
	l.t.Helper()
	rows := l.exec(sql, args...).Rows
	if len(rows) == 0 {
		return nil
	}
	return rows[0][0]
}

// stamp is a time as ActiveRecord writes it to Signon's datetime columns:
// UTC, and cut to the whole second (Rails truncates to the column's
// precision, 0, before MySQL could round).
func stamp(t time.Time) string {
	return t.UTC().Format(time.DateTime)
}

// randomHex is a uid or secret for a row, as Signon makes them.
func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Now is the time Rails sees: this machine's clock.
func (l *Lite) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func (l *Lite) addUser(name, email string, api bool) int64 {
	l.t.Helper()
	now, flag := stamp(time.Now()), 0
	if api {
		flag = 1
	}
	return l.exec(`INSERT INTO users (name, email, uid, api_user, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		name, email, randomHex(), flag, now, now).ID
}

// AddSuperadmin adds a person with the superadmin role, the only one
// Signon lets create and revoke API tokens.
func (l *Lite) AddSuperadmin(name, email string) {
	l.t.Helper()
	l.exec(`UPDATE users SET role = 'superadmin' WHERE id = ?`, l.addUser(name, email, false))
}

// Lock locks a person's account, as Devise does after failed sign-ins.
func (l *Lite) Lock(email string) {
	l.t.Helper()
	l.exec(`UPDATE users SET locked_at = ? WHERE id = ?`, stamp(time.Now()), l.userID(email))
}

// RetireApplication retires an application.
func (l *Lite) RetireApplication(name string) {
	l.t.Helper()
	l.exec(`UPDATE oauth_applications SET retired = 1 WHERE id = ?`, l.appID(name))
}

// DeleteExpired runs Signon's Sunday clean-up,
// oauth_access_grants:delete_expired.
func (l *Lite) DeleteExpired() { l.rake("oauth_access_grants:delete_expired") }

// AutoRenew runs Signon's 01:00 task,
// access_tokens:renew_expiring_internal_tokens.
func (l *Lite) AutoRenew() { l.rake("access_tokens:renew_expiring_internal_tokens") }

// rake runs one of signon-lite's tasks as its CronJob would.
func (l *Lite) rake(task string) {
	l.t.Helper()
	var out strings.Builder
	if err := l.Runner().Run(context.Background(), []string{"bin/rails", task}, strings.NewReader(""), &out, &out); err != nil {
		l.t.Fatalf("signon-lite %s: %v\n%s", task, err, out.String())
	}
}

// AddAPIUser adds an API user.
func (l *Lite) AddAPIUser(name, email string) flows.APIUser {
	l.t.Helper()
	return flows.APIUser{ID: l.addUser(name, email, true), Name: name, Email: email}
}

// AddHumanUser adds a person's account.
func (l *Lite) AddHumanUser(name, email string) {
	l.t.Helper()
	l.addUser(name, email, false)
}

// AddApplication adds an application and, as Signon's after_create does, its
// delegated signin permission.
func (l *Lite) AddApplication(name string) flows.Application {
	l.t.Helper()
	now := stamp(time.Now())
	id := l.exec(`INSERT INTO oauth_applications (name, uid, secret, redirect_uri, created_at, updated_at) VALUES (?, ?, ?, 'https://example.invalid/auth/gds/callback', ?, ?)`,
		name, randomHex(), randomHex(), now, now).ID
	l.exec(`INSERT INTO supported_permissions (application_id, name, delegated, created_at, updated_at) VALUES (?, 'signin', 1, ?, ?)`, id, now, now)
	return flows.Application{ID: id, Name: name, Slug: flows.Parameterize(name)}
}

func (l *Lite) userID(email string) int64 {
	l.t.Helper()
	id, ok := l.one(`SELECT id FROM users WHERE email = ?`, email).(float64)
	if !ok {
		l.t.Fatalf("signon-lite: no user %s", email)
	}
	return int64(id)
}

func (l *Lite) appID(name string) int64 {
	l.t.Helper()
	id, ok := l.one(`SELECT id FROM oauth_applications WHERE name = ?`, name).(float64)
	if !ok {
		l.t.Fatalf("signon-lite: no application %s", name)
	}
	return int64(id)
}

// AddToken adds a token made at created that lives for life (whole
// seconds); life 0 leaves expires_in NULL: the token never expires.
// created is kept to the whole second, as Signon's column keeps it.
func (l *Lite) AddToken(email, application string, created time.Time, life time.Duration) (flows.Token, token.Secret) {
	l.t.Helper()
	created = created.UTC().Truncate(time.Second)
	secret := token.Generate()
	var expiresIn any
	if life != 0 {
		expiresIn = int64(life / time.Second)
	}
	id := l.exec(`INSERT INTO oauth_access_tokens (resource_owner_id, application_id, token, expires_in, created_at) VALUES (?, ?, ?, ?, ?)`,
		l.userID(email), l.appID(application), secret.Reveal(), expiresIn, stamp(created)).ID
	t := flows.Token{ID: id, CreatedAt: created, Fingerprint: secret.Fingerprint()}
	if life != 0 {
		t.ExpiresAt = created.Add(life)
	}
	return t, secret
}

// SetLastSynced records when the application last saw the user's token, on
// the user's signin permission row as Signon keeps it.
func (l *Lite) SetLastSynced(email, application string, at time.Time) {
	l.t.Helper()
	user, app := l.userID(email), l.appID(application)
	perm := l.one(`SELECT id FROM supported_permissions WHERE application_id = ? AND name = 'signin'`, app)
	now := stamp(time.Now())
	if l.one(`SELECT id FROM user_application_permissions WHERE user_id = ? AND supported_permission_id = ?`, user, perm) == nil {
		l.exec(`INSERT INTO user_application_permissions (user_id, application_id, supported_permission_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			user, app, perm, now, now)
	}
	l.exec(`UPDATE user_application_permissions SET last_synced_at = ? WHERE user_id = ? AND application_id = ?`, stamp(at), user, app)
}

// Suspend suspends a user and revokes their tokens, as Signon's suspend does.
func (l *Lite) Suspend(email string) {
	l.t.Helper()
	now := stamp(time.Now())
	user := l.userID(email)
	l.exec(`UPDATE users SET suspended_at = ?, reason_for_suspension = 'suspended by a test' WHERE id = ?`, now, user)
	l.exec(`UPDATE oauth_access_tokens SET revoked_at = ? WHERE resource_owner_id = ? AND revoked_at IS NULL`, now, user)
}

// TokenCount counts the user's tokens for the application, revoked ones
// included.
func (l *Lite) TokenCount(email, application string) int {
	l.t.Helper()
	n, _ := l.one(`SELECT count(*) FROM oauth_access_tokens WHERE resource_owner_id = ? AND application_id = ?`, l.userID(email), l.appID(application)).(float64)
	return int(n)
}

// HasSignin reports whether the user holds the application's signin
// permission.
func (l *Lite) HasSignin(email, application string) bool {
	l.t.Helper()
	n, _ := l.one(`SELECT count(*) FROM user_application_permissions p JOIN supported_permissions s ON s.id = p.supported_permission_id
		WHERE p.user_id = ? AND p.application_id = ? AND s.name = 'signin'`, l.userID(email), l.appID(application)).(float64)
	return n > 0
}

var eventNames = map[float64]string{29: signontest.EventGenerated, 30: signontest.EventRevoked, 44: signontest.EventTokensDeleted, 48: signontest.EventAutoGenerated}

// Events reads Signon's event log, oldest first.
func (l *Lite) Events() []signontest.Event {
	l.t.Helper()
	var out []signontest.Event
	// users is utf8mb3_unicode_ci and event_logs utf8mb3_general_ci, as in
	// Signon: MySQL refuses to compare their uids without a collation.
	for _, r := range l.exec(`SELECT e.event_id, u.email, i.email, a.name, e.user_agent_string, e.trailing_message FROM event_logs e
		LEFT JOIN users u ON u.uid = e.uid COLLATE utf8mb3_unicode_ci LEFT JOIN users i ON i.id = e.initiator_id
		LEFT JOIN oauth_applications a ON a.id = e.application_id ORDER BY e.id`).Rows {
		id, _ := r[0].(float64)
		name, ok := eventNames[id]
		if !ok {
			name = fmt.Sprintf("EVENT_%v", r[0])
		}
		e := signontest.Event{Name: name}
		e.User, _ = r[1].(string)
		e.Initiator, _ = r[2].(string)
		e.Application, _ = r[3].(string)
		e.UserAgent, _ = r[4].(string)
		e.TrailingMessage, _ = r[5].(string)
		out = append(out, e)
	}
	return out
}

// Snapshot dumps every table the script touches, tokens as fingerprints.
func (l *Lite) Snapshot() string {
	l.t.Helper()
	var b []byte
	for _, table := range []string{"users", "oauth_applications", "supported_permissions", "oauth_access_tokens", "user_application_permissions", "event_logs"} {
		a := l.exec(`SELECT * FROM ` + table + ` ORDER BY id`)
		rows := a.Rows
		// A snapshot may end up in a failure message: no plaintext.
		for i, column := range a.Columns {
			if table != "oauth_access_tokens" || (column != "token" && column != "refresh_token") {
				continue
			}
			for _, r := range rows {
				if v, ok := r[i].(string); ok {
					r[i] = string(token.FingerprintOf(v))
				}
			}
		}
		dump, err := json.Marshal(rows)
		if err != nil {
			l.t.Fatal(err)
		}
		b = fmt.Appendf(b, "%s %s\n", table, dump)
	}
	return string(b)
}
