package meetings_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/meetings/sim"
)

// TestMain doubles as a simulator process for BenchmarkIdleListeners, so the benchmark measures
// the client's memory alone.
func TestMain(m *testing.M) {
	if os.Getenv("MEETINGS_TEST_SIM_PROCESS") == "1" {
		serveSimProcess()
		return
	}
	os.Exit(m.Run())
}

// serveSimProcess serves a simulator with room 1061 (host PIN 1234, Alice in it) on loopback,
// prints its URL, and serves until its standard input closes.
func serveSimProcess() {
	s := sim.New(sim.Options{StreamBuffer: 16})
	s.AddRoom(sim.RoomConfig{Number: "1061", HostPIN: "1234"})
	s.Room("1061").Join(sim.ParticipantSpec{Name: "Alice"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		return
	}
	go http.Serve(ln, s)
	fmt.Println("http://" + ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
}

// simProcess starts the simulator in a child process and returns its URL.
func simProcess(tb testing.TB) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "MEETINGS_TEST_SIM_PROCESS=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		tb.Fatalf("simulator process: %q, %v", line, err)
	}
	return strings.TrimSpace(line)
}
