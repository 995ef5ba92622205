package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Server is a PostgreSQL server of a test's own, in a temporary folder, which the test can stop
// and start again (a restart, a crash, a failover) while the code under test uses it. It is made
// with the server binaries `pg_config --bindir` names; as root (CI) they run as the postgres
// user, since initdb and postgres refuse to run as root.
type Server struct {
	tb   testing.TB
	bin  string // the server binaries
	dir  string // owned by the user the server runs as
	port int
	// URL reaches the server's postgres database as the postgres superuser, over TCP.
	URL string
}

// StartServer initialises a database cluster in a temporary folder and starts a server on a free
// loopback port; it is stopped and removed when tb ends. Without the server binaries the test
// skips (or fails under MEETBOT_TEST_REQUIRE_ALL=true).
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	out, err := exec.Command("pg_config", "--bindir").Output()
	bin := strings.TrimSpace(string(out))
	if err != nil || bin == "" {
		if os.Getenv("MEETBOT_TEST_REQUIRE_ALL") == "true" {
			tb.Fatalf("pg_config --bindir: %v: the PostgreSQL server binaries are needed", err)
		}
		tb.Skip("no PostgreSQL server binaries (pg_config --bindir); skipping a test that runs its own server")
	}
	dir, err := os.MkdirTemp("", "meetbot-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{tb: tb, bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root and there is no postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		_ = s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	if err := s.run("initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		tb.Fatalf("initdb: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	s.Start()
	return s
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// Start starts the server (again) and waits until it accepts connections.
func (s *Server) Start() {
	s.tb.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", s.port, s.dir)
	if err := s.run("pg_ctl", "-D", s.data(), "-o", opts, "-l", filepath.Join(s.dir, "log"), "-w", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.tb.Fatalf("start PostgreSQL: %v\n%s", err, log)
	}
}

// Stop stops the server: "fast" (a clean shutdown, as a restart does) or "immediate" (a crash).
func (s *Server) Stop(mode string) {
	s.tb.Helper()
	if err := s.run("pg_ctl", "-D", s.data(), "-m", mode, "-w", "stop"); err != nil {
		s.tb.Fatalf("stop PostgreSQL: %v", err)
	}
}

// run runs one of the server's binaries, as the postgres user when this process is root.
func (s *Server) run(name string, args ...string) error {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}
