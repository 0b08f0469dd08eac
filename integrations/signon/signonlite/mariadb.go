package signonlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The environment variables scripts/test-deps.sh sets for the MariaDB that
// signon-lite runs on: the server, and the tool that makes its system tables.
const (
	EnvMariaDB   = "SIGNON_BOT_MARIADB"
	EnvInstallDB = "SIGNON_BOT_MARIADB_INSTALL_DB"
)

// serverOptions make the server behave as Signon's MySQL does where the
// script can tell (InnoDB, REPEATABLE READ, UTC) and start fast where it
// cannot (small buffers, no durability, no TCP: the socket is private).
var serverOptions = []string{
	"--default-storage-engine=InnoDB",
	"--transaction-isolation=REPEATABLE-READ",
	"--default-time-zone=+00:00",
	"--innodb-buffer-pool-size=32M",
	"--innodb-log-file-size=8M",
	"--innodb-flush-log-at-trx-commit=0",
	"--skip-log-bin",
	"--skip-networking",
	"--skip-name-resolve",
}

// server is one mariadbd with its data in a temporary directory.
type server struct {
	dir, socket, log string
	cmd              *exec.Cmd
	exited           chan struct{}
	// StartupTime is how long it took to copy the data directory and start.
	StartupTime time.Duration
}

// shared is the test process's one server: every test gets its own
// database on it, which is far cheaper than a server each.
var shared struct {
	once sync.Once
	srv  *server
	err  error
}

// sharedServer starts the process's server on first use. Without MariaDB
// the test is skipped, or fails under CI.
func sharedServer(t testing.TB) *server {
	t.Helper()
	bin, install := os.Getenv(EnvMariaDB), os.Getenv(EnvInstallDB)
	if bin == "" || install == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("signonlite: %s and %s are not set: run `make test`", EnvMariaDB, EnvInstallDB)
		}
		t.Skipf("signonlite: %s and %s are not set: run `make test` (or eval \"$(scripts/test-deps.sh)\")", EnvMariaDB, EnvInstallDB)
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.srv, shared.err = startServer(ctx, bin, install)
		if shared.err == nil {
			t.Logf("signonlite: MariaDB started in %s", shared.srv.StartupTime.Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		t.Fatalf("signonlite: %v", shared.err)
	}
	return shared.srv
}

// StopShared stops the process's MariaDB, if it was started, and deletes
// its data. Call it from TestMain after the tests.
func StopShared() {
	if shared.srv != nil {
		shared.srv.stop()
	}
}

func startServer(ctx context.Context, bin, install string) (*server, error) {
	start := time.Now()
	template, err := templateDataDir(ctx, bin, install)
	if err != nil {
		return nil, err
	}
	// A unix socket path is limited to 108 bytes: keep it short.
	dir, err := os.MkdirTemp("", "signonlite-mariadb-")
	if err != nil {
		return nil, fmt.Errorf("make MariaDB's directory: %w", err)
	}
	s := &server{dir: dir, socket: filepath.Join(dir, "mysqld.sock"), log: filepath.Join(dir, "mariadbd.log"), exited: make(chan struct{})}
	data := filepath.Join(dir, "data")
	if err := os.CopyFS(data, os.DirFS(template)); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("copy MariaDB's data directory: %w", err)
	}
	args := append([]string{"--no-defaults", "--datadir=" + data, "--socket=" + s.socket,
		"--pid-file=" + filepath.Join(dir, "mariadbd.pid"), "--log-error=" + s.log}, serverOptions...)
	args = append(args, asRoot()...)
	s.cmd = exec.Command(bin, args...)
	// Pdeathsig ends the server with the test binary (a panic, -timeout),
	// so none outlives its run.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, err
	}
	s.StartupTime = time.Since(start)
	return s, nil
}

// asRoot lets mariadbd run as root, as CI does; it refuses otherwise.
func asRoot() []string {
	if os.Geteuid() == 0 {
		return []string{"--user=root"}
	}
	return nil
}

// waitReady connects until the server sends its handshake: only then does
// it accept clients.
func (s *server) waitReady(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = handshake(s.socket); last == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("mariadbd exited before it was ready; its log ends:\n%s", s.tail())
		case <-ctx.Done():
			return fmt.Errorf("mariadbd not ready (%v): %w; its log ends:\n%s", last, ctx.Err(), s.tail())
		case <-tick.C:
		}
	}
}

func handshake(socket string) error {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	// A packet header (4 bytes), then protocol version 10.
	b := make([]byte, 5)
	if _, err := io.ReadFull(c, b); err != nil {
		return fmt.Errorf("read handshake: %w", err)
	}
	if b[4] != 10 {
		return fmt.Errorf("unexpected handshake byte %d", b[4])
	}
	return nil
}

func (s *server) stop() {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	os.RemoveAll(s.dir)
}

func (s *server) tail() string {
	b, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// templateDataDir is an initialised data directory (system tables, root
// without a password), made once per MariaDB build and cached: making one
// takes seconds, copying it milliseconds.
func templateDataDir(ctx context.Context, bin, install string) (string, error) {
	info, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("mariadbd: %w", err)
	}
	key := sha256.Sum256(fmt.Appendf(nil, "%s %d %d %s", bin, info.Size(), info.ModTime().UnixNano(), strings.Join(serverOptions, " ")))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	root := filepath.Join(cache, "signon-token-bot", "mariadb")
	dir := filepath.Join(root, hex.EncodeToString(key[:8]))
	if _, err := os.Stat(filepath.Join(dir, "mysql")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("make MariaDB cache: %w", err)
	}
	// Build beside the cache and rename into place, so a process that
	// races this one sees a whole directory or none.
	tmp, err := os.MkdirTemp(root, "init-")
	if err != nil {
		return "", fmt.Errorf("make MariaDB cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "data")
	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db"}, serverOptions...)
	args = append(args, asRoot()...)
	out, err := exec.CommandContext(ctx, install, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %w\n%s", install, err, out)
	}
	if err := os.Rename(data, dir); err != nil {
		// Another process got there first: its copy is as good.
		if _, statErr := os.Stat(filepath.Join(dir, "mysql")); statErr != nil {
			return "", fmt.Errorf("cache MariaDB data directory: %w", err)
		}
	}
	return dir, nil
}
