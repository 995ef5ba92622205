// Package dendritetest runs a real Matrix homeserver (Dendrite v0.13.8) on loopback for integration
// tests, and creates users on it with shared-secret registration.
//
// scripts/test installs Dendrite once into .tools/bin and exports MEETBOT_TEST_DENDRITE with that
// folder. Without it, tests skip with a clear line, unless MEETBOT_TEST_REQUIRE_ALL=true, when they
// fail. One server per test package (started from TestMain with Launch) keeps tests fast: it answers
// in about half a second.
package dendritetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create Dendrite's database
)

// EnvDir names the environment variable that holds the folder with the dendrite, generate-config
// and generate-keys binaries.
const EnvDir = "MEETBOT_TEST_DENDRITE"

// EnvRequireAll names the environment variable that, set to "true", turns a missing Dendrite from a
// skip into a failure.
const EnvRequireAll = "MEETBOT_TEST_REQUIRE_ALL"

// SharedSecret is the registration secret of the configuration generate-config -ci writes.
const SharedSecret = "complement"

// ServerName is the homeserver's name: users are @name:localhost.
const ServerName = "localhost"

// ErrNotInstalled is returned by Launch when no Dendrite binaries are found.
var ErrNotInstalled = errors.New("dendritetest: Dendrite is not installed (set " + EnvDir + "; scripts/test installs it)")

// Required reports whether a missing Dendrite must fail the tests rather than skip them.
func Required() bool { return os.Getenv(EnvRequireAll) == "true" }

// Server is one running Dendrite process and its files.
type Server struct {
	// URL is the client-server API base, e.g. http://127.0.0.1:34567.
	URL string

	bin, dir, addr string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	log      *os.File
	stopping bool
	crashes  int
	dropDB   func() error
}

// Launch generates keys and a configuration in dir, starts Dendrite on a free loopback port and
// waits until it answers. It returns ErrNotInstalled when the binaries are missing.
func Launch(ctx context.Context, dir string) (*Server, error) {
	bin := os.Getenv(EnvDir)
	if bin == "" {
		return nil, ErrNotInstalled
	}
	for _, name := range []string{"dendrite", "generate-config", "generate-keys"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
		}
	}
	s := &Server{bin: bin, dir: dir}
	if err := s.configure(ctx); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.URL = "http://" + s.addr
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Start launches a Dendrite for one test in t.TempDir() and stops it when the test ends. It skips
// the test when Dendrite is not installed, or fails it when EnvRequireAll is "true".
func Start(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Launch(ctx, t.TempDir())
	if errors.Is(err, ErrNotInstalled) {
		if Required() {
			t.Fatalf("%v (required: %s=true)", err, EnvRequireAll)
		}
		t.Skipf("SKIP: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop dendrite: %v", err)
		}
	})
	return s
}

func (s *Server) configure(ctx context.Context) error {
	keys := exec.CommandContext(ctx, filepath.Join(s.bin, "generate-keys"), "-private-key", filepath.Join(s.dir, "matrix_key.pem"))
	if out, err := keys.CombinedOutput(); err != nil {
		return fmt.Errorf("generate-keys: %w: %s", err, out)
	}
	gen := exec.CommandContext(ctx, filepath.Join(s.bin, "generate-config"), "-ci", "-dir", s.dir, "-server", ServerName)
	cfg, err := gen.Output()
	if err != nil {
		return fmt.Errorf("generate-config: %w", err)
	}
	text := string(cfg)
	for _, edit := range [][2]string{
		{"disable_federation: false", "disable_federation: true"},
		{"registration_disabled: false", "registration_disabled: true"},
		{"private_key: matrix_key.pem", "private_key: " + filepath.Join(s.dir, "matrix_key.pem")},
		// Keep the event streams on disk, so a restart (the tests' or a crash's) loses nothing.
		{"in_memory: true\n    disable_tls_validation", "in_memory: false\n    disable_tls_validation"},
	} {
		if !strings.Contains(text, edit[0]) {
			return fmt.Errorf("generate-config: output lacks %q", edit[0])
		}
		text = strings.Replace(text, edit[0], edit[1], 1)
	}
	if pg := os.Getenv(EnvPostgres); pg != "" {
		if text, err = s.usePostgres(ctx, pg, text); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(s.dir, "dendrite.yaml"), []byte(text), 0o600)
}

// EnvPostgres names the environment variable with a PostgreSQL URL (scripts/test sets it). When set,
// Dendrite keeps its data in a fresh database there, dropped by Stop: with SQLite, Dendrite v0.13.8
// locks itself out and panics on a loaded machine ("database is locked", "write new event failure").
const EnvPostgres = "MEETBOT_TEST_POSTGRES_URL"

var (
	fileConnString = regexp.MustCompile(`(?m)connection_string: file:\S+$`)
	dbSeq          atomic.Int64
)

// dropOrphans drops the databases of test processes that died without cleaning up (killed by a
// timeout), named after their process id.
func dropOrphans(ctx context.Context, admin *sql.DB) {
	rows, err := admin.QueryContext(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'dendrite_test_%'")
	if err != nil {
		return
	}
	var orphans []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(name, "dendrite_test_%d_", &pid); err != nil || pid <= 0 {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			orphans = append(orphans, name)
		}
	}
	rows.Close()
	for _, name := range orphans {
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
}

// usePostgres creates a database for this server and points the configuration at it.
func (s *Server) usePostgres(ctx context.Context, pg, config string) (string, error) {
	u, err := url.Parse(pg)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvPostgres, err)
	}
	name := fmt.Sprintf("dendrite_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, dbSeq.Add(1))
	admin, err := sql.Open("pgx", pg)
	if err != nil {
		return "", err
	}
	dropOrphans(ctx, admin)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", fmt.Errorf("create database for dendrite: %w", err)
	}
	s.dropDB = func() error {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		return err
	}
	u.Path = "/" + name
	global := `connection_string: ""`
	if !strings.Contains(config, global) || !strings.Contains(config, "max_open_conns: 90") {
		return "", errors.New("generate-config: unexpected database section")
	}
	config = strings.Replace(config, global, "connection_string: "+u.String(), 1)
	config = strings.Replace(config, "max_open_conns: 90", "max_open_conns: 8", 1)
	return fileConnString.ReplaceAllString(config, `connection_string: ""`), nil
}

func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = false
	return s.startLocked(ctx)
}

func (s *Server) startLocked(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "dendrite.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "dendrite"), "-config", filepath.Join(s.dir, "dendrite.yaml"), "-http-bind-address", s.addr)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start dendrite: %w", err)
	}
	done := make(chan struct{})
	go s.watch(cmd, done)
	if err := s.waitReady(ctx, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		logf.Close()
		return fmt.Errorf("%w; log: %s", err, s.tail())
	}
	s.cmd, s.done, s.log = cmd, done, logf
	return nil
}

// watch waits for cmd to end. Dendrite v0.13.8 sometimes panics on a loaded machine ("write new
// event failure … interrupted"); a homeserver that dies on its own is started again on the same
// port and databases, as a supervisor would in production, so one crash does not fail every later
// test. Crashes counts them.
func (s *Server) watch(cmd *exec.Cmd, done chan struct{}) {
	_ = cmd.Wait()
	close(done)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != cmd || s.stopping {
		return
	}
	s.crashes++
	fmt.Fprintf(s.log, "\ndendritetest: dendrite exited on its own (%v); starting it again\n", cmd.ProcessState)
	s.log.Close()
	s.cmd = nil
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.startLocked(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "dendritetest: restart after a crash: %v\n", err)
	}
}

// Crashes returns how many times Dendrite died on its own and was started again.
func (s *Server) Crashes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crashes
}

func (s *Server) waitReady(ctx context.Context, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/_matrix/client/versions", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return errors.New("dendrite exited before answering")
		case <-ctx.Done():
			return fmt.Errorf("dendrite did not answer at %s: %w", s.URL, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends the Dendrite process (SIGTERM, then SIGKILL after five seconds). It is idempotent.
func (s *Server) Stop() error {
	err := s.stop()
	if s.dropDB != nil {
		if derr := s.dropDB(); derr != nil && err == nil {
			err = derr
		}
		s.dropDB = nil
	}
	return err
}

func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	return s.log.Close()
}

// Restart stops Dendrite and starts it again on the same port with the same databases, as a
// homeserver restart in production would.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.stop(); err != nil {
		return err
	}
	return s.start(ctx)
}

// Log returns Dendrite's errors, panics and restarts, then the last part of its log, for failure
// messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "dendrite.log"))
	var out strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "level=error") || strings.Contains(line, "level=panic") || strings.Contains(line, "level=fatal") ||
			strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "dendritetest:") {
			if len(line) > 500 {
				line = line[:500] + "…"
			}
			out.WriteString(line + "\n")
		}
	}
	return out.String() + "--- last lines:\n" + s.tail()
}

func (s *Server) tail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "dendrite.log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// User is an account created on the test server, already logged in on one device.
type User struct {
	UserID      id.UserID
	DeviceID    id.DeviceID
	AccessToken string
	Password    string
}

// RegisterUser creates the user @name:localhost with shared-secret registration and returns its
// credentials. Admin makes it a server admin.
func (s *Server) RegisterUser(ctx context.Context, name string, admin bool) (User, error) {
	cli, err := mautrix.NewClient(s.URL, "", "")
	if err != nil {
		return User{}, err
	}
	password := "pw-" + name + "-secret"
	resp, err := (&synapseadmin.Client{Client: cli}).SharedSecretRegister(ctx, SharedSecret, synapseadmin.ReqSharedSecretRegister{
		Username: name, Password: password, Admin: admin,
	})
	if err != nil {
		return User{}, fmt.Errorf("register %s: %w", name, err)
	}
	return User{UserID: resp.UserID, DeviceID: resp.DeviceID, AccessToken: resp.AccessToken, Password: password}, nil
}

// Client returns a mautrix client logged in as u, with an in-memory sync store.
func (s *Server) Client(u User) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(s.URL, u.UserID, u.AccessToken)
	if err != nil {
		return nil, err
	}
	cli.DeviceID = u.DeviceID
	return cli, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
