package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings/sim"
)

// TestHealthcheck runs `bot healthcheck` as a container engine would: against a running `bot run`
// it exits 0, and once that bot has stopped it exits 1 with a line saying why.
func TestHealthcheck(t *testing.T) {
	srv, _ := newSim(sim.Options{}, false)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	listen := ":" + port // as in the image: every interface, probed on loopback

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	var runErr syncBuffer
	go func() {
		exit <- Main(ctx, []string{"run"}, strings.NewReader(""), io.Discard, &runErr, envOf(map[string]string{
			"MEET_API_SERVER": hs.URL, "MEETBOT_SECRET_KEY": testKey, "STORE_URL": "sqlite::memory:", "HTTP_ADDR": listen, "LOG_LEVEL": "warn",
		}))
	}()
	waitHealthy(t, "127.0.0.1:"+port, &runErr)

	probe := func() (int, string) {
		var out, errOut syncBuffer
		code := Main(context.Background(), []string{"healthcheck"}, strings.NewReader(""), &out, &errOut, envOf(map[string]string{"HTTP_ADDR": listen}))
		return code, out.String() + errOut.String()
	}
	if code, out := probe(); code != 0 {
		t.Fatalf("healthcheck of a running bot = %d, want 0:\n%s", code, out)
	}
	cancel()
	select {
	case <-exit:
	case <-time.After(20 * time.Second):
		t.Fatal("bot run did not stop")
	}
	code, out := probe()
	if code != 1 || !strings.Contains(out, "healthcheck") || !strings.Contains(out, "/healthz") {
		t.Fatalf("healthcheck of a stopped bot = %d, want 1 with a line naming /healthz:\n%s", code, out)
	}
}

// waitHealthy waits until a bot answers /healthz on addr; the bot's own start-up is the signal.
func waitHealthy(t *testing.T, addr string, stderr *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("bot on %s never answered /healthz; stderr:\n%s", addr, stderr.String())
}

func TestProbeAddr(t *testing.T) {
	for listen, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:8080":   "127.0.0.1:8080",
		"[::]:8080":      "[::1]:8080",
		"10.1.2.3:9000":  "10.1.2.3:9000",
		"localhost:8080": "localhost:8080",
	} {
		if got, err := probeAddr(listen); err != nil || got != want {
			t.Errorf("probeAddr(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
	for _, bad := range []string{"8080", "127.0.0.1:0", ""} {
		if got, err := probeAddr(bad); err == nil {
			t.Errorf("probeAddr(%q) = %q, want an error", bad, got)
		}
	}
}

// TestUnwritableDataFolderSaysHowToFix is the container whose /data the non-root user cannot
// write: instead of SQLite's "unable to open database file (14)", the bot names the folder and the
// fix. Permissions do not bind root, so under root the check runs in a child process as nobody.
func TestUnwritableDataFolderSaysHowToFix(t *testing.T) {
	if os.Getenv("MEETBOT_TEST_UNWRITABLE_CHILD") != "" {
		err := checkDataFolder("sqlite:" + filepath.Join(os.Getenv("MEETBOT_TEST_UNWRITABLE_CHILD"), "meetbot.db"))
		if err == nil {
			t.Fatal("checkDataFolder accepted a folder this user cannot write")
		}
		os.Stdout.WriteString("CHILD: " + err.Error() + "\n")
		return
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	var out string
	if os.Getuid() != 0 {
		err := checkDataFolder("sqlite:" + filepath.Join(dir, "meetbot.db"))
		if err == nil {
			t.Fatal("checkDataFolder accepted a read-only folder")
		}
		out = err.Error()
	} else {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skip("running as root without runuser: cannot drop privileges to test permissions")
		}
		// The child needs to reach its own binary and the folder as nobody.
		bin := filepath.Join(t.TempDir(), "bot.test")
		if err := copyFile(os.Args[0], bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), filepath.Dir(dir), filepath.Dir(filepath.Dir(dir))} {
			os.Chmod(d, 0o755)
		}
		cmd := exec.Command(runuser, "-u", "nobody", "--", bin, "-test.run=^TestUnwritableDataFolderSaysHowToFix$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MEETBOT_TEST_UNWRITABLE_CHILD="+dir)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child as nobody: %v\n%s", err, b)
		}
		out = string(b)
	}
	for _, want := range []string{"STORE_URL", dir, "not writable", "chown", "named volume"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, out)
		}
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}

// TestProfilerOnlyOnItsOwnAddress: with PPROF_ADDR set, the profiler answers there and not on
// HTTP_ADDR, which the public (Slack) reaches.
func TestProfilerOnlyOnItsOwnAddress(t *testing.T) {
	srv, _ := newSim(sim.Options{}, false)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close) // after the bot has stopped: cleanups run last registered first
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	profiler := ln.Addr().String()
	ln.Close()
	public := startBotRun(t, map[string]string{
		"MEET_API_SERVER": hs.URL, "MEETBOT_SECRET_KEY": testKey, "STORE_URL": "sqlite::memory:",
		"PPROF_ADDR": profiler, "LOG_LEVEL": "warn",
	})
	// The profiler is its own task: it may start a moment after /healthz answers.
	status := func(u string) int {
		for range 200 {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("GET %s never answered", u)
		return 0
	}
	if code := status("http://" + profiler + "/debug/pprof/heap?debug=1"); code != http.StatusOK {
		t.Errorf("profiler on PPROF_ADDR = %d, want 200", code)
	}
	if code := status("http://" + public + "/debug/pprof/heap?debug=1"); code != http.StatusNotFound {
		t.Errorf("profiler on HTTP_ADDR = %d, want 404", code)
	}
}
