// Command slackflood is a load tool for the Slack endpoint's defences (README, "Security"): it
// starts a `bot run` child on loopback with Slack configured against a stand-in for Slack's side,
// holds many slow, large requests with fresh timestamps and well-formed but wrong signatures in
// flight against /slack/commands, and meanwhile sends properly signed slash commands. It reports
// the child's peak resident memory (VmHWM in /proc/<pid>/status) and the signed commands'
// acknowledgement times.
//
//	go build -o /tmp/bot ./cmd/bot
//	go run ./cmd/slackflood -bot /tmp/bot                 # 500 slow 1 MiB requests for 20 s
//	go run ./cmd/slackflood -bot /tmp/bot -mode chunked -slow 1000
//
// It is a measuring tool, not a test: it asserts nothing. All traffic goes to 127.0.0.1, and
// every count and duration is capped (-slow ≤ 2000, -duration ≤ 2m, -commands ≤ 10000).
package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	bot      string
	slow     int
	size     int
	mode     string
	duration time.Duration
	commands int
	rate     float64
	chunk    int
	every    time.Duration
	pause    time.Duration
	reads    int
}

func main() {
	var o options
	flag.StringVar(&o.bot, "bot", "", "path of a built bot binary (go build -o /tmp/bot ./cmd/bot); required")
	flag.IntVar(&o.slow, "slow", 500, "slow requests kept in flight (at most 2000)")
	flag.IntVar(&o.size, "size", 1<<20, "body size each slow request announces or sends, bytes")
	flag.StringVar(&o.mode, "mode", "mix", "declared (Content-Length), chunked (no length), or mix (half each)")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long the flood lasts (at most 2m)")
	flag.IntVar(&o.commands, "commands", 200, "signed slash commands sent during the flood (at most 10000)")
	flag.Float64Var(&o.rate, "rate", 10, "signed commands per second")
	flag.IntVar(&o.chunk, "chunk", 16<<10, "bytes a slow request sends at a time")
	flag.DurationVar(&o.every, "every", 100*time.Millisecond, "how often a slow request sends its next bytes")
	flag.DurationVar(&o.pause, "pause", 200*time.Millisecond, "wait before a slow sender reconnects after an answer")
	flag.IntVar(&o.reads, "reads", 0, "SLACK_MAX_UNVERIFIED_READS for the bot (0: its default)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "slackflood:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	switch {
	case o.bot == "":
		return errors.New("-bot is required: go build -o /tmp/bot ./cmd/bot")
	case o.slow < 0 || o.slow > 2000:
		return errors.New("-slow must be 0 to 2000")
	case o.duration <= 0 || o.duration > 2*time.Minute:
		return errors.New("-duration must be above 0 and at most 2m")
	case o.commands < 1 || o.commands > 10000:
		return errors.New("-commands must be 1 to 10000")
	case o.rate <= 0 || o.rate > 500:
		return errors.New("-rate must be above 0 and at most 500")
	case o.mode != "declared" && o.mode != "chunked" && o.mode != "mix":
		return errors.New("-mode must be declared, chunked or mix")
	case o.size < 1 || o.size > 64<<20 || o.chunk < 1 || o.every <= 0 || o.pause < 0:
		return errors.New("-size (≤ 64 MiB), -chunk and -every must be positive")
	}

	bot, err := filepath.Abs(o.bot) // the child runs in a folder of its own
	if err != nil {
		return err
	}
	o.bot = bot
	side := &slackSide{}
	ss := httptest.NewServer(side) // 127.0.0.1
	defer ss.Close()

	dir, err := os.MkdirTemp("", "slackflood-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	secret := randomHex(16)
	env := append(os.Environ(),
		"MEET_API_SERVER="+ss.URL, "MEETBOT_SECRET_KEY="+randomHex(32),
		"STORE_URL=sqlite:"+filepath.Join(dir, "bot.db"), "HTTP_ADDR="+addr, "LOG_LEVEL=error",
		"SLACK_BOT_TOKEN=xoxb-slackflood", "SLACK_SIGNING_SECRET="+secret, "SLACK_API_URL="+ss.URL+"/api/",
		"SLACK_APP_TOKEN=", "MATRIX_HOMESERVER=")
	if o.reads > 0 {
		env = append(env, "SLACK_MAX_UNVERIFIED_READS="+strconv.Itoa(o.reads))
	}
	logf, err := os.Create(filepath.Join(dir, "bot.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(o.bot, "run")
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, dir, logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", o.bot, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stop(cmd, exited)
	if err := waitHealthy(addr, exited); err != nil {
		log, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("%w; bot log:\n%s", err, log)
	}

	pid := cmd.Process.Pid
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 5 { // warm up: the first commands open the store and fill the rights cache
		if _, _, err := signedCommand(client, addr, secret, ss.URL, "warm"+strconv.Itoa(i)); err != nil {
			return fmt.Errorf("warm-up command: %w", err)
		}
	}
	baseHWM, baseRSS := memory(pid)
	fmt.Printf("bot run pid %d on %s: before the flood VmHWM %s, VmRSS %s\n", pid, addr, mib(baseHWM), mib(baseRSS))

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var fl flood
	var wg sync.WaitGroup
	for i := range o.slow {
		chunked := o.mode == "chunked" || (o.mode == "mix" && i%2 == 1)
		wg.Go(func() { fl.sender(ctx, addr, o, chunked) })
	}
	var peakRSS atomic.Int64
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			_, rss := memory(pid)
			if rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})

	// Let the flood build up before the first signed command, then send them at the rate asked,
	// each from its own goroutine so a slow answer does not delay the next.
	time.Sleep(min(2*time.Second, o.duration/4))
	var (
		mu      sync.Mutex
		acks    []time.Duration
		refused = map[int]int{}
		errs    int
		cmds    sync.WaitGroup
	)
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	sent := 0
send:
	for ; sent < o.commands; sent++ {
		select {
		case <-ctx.Done():
			break send
		case <-tick.C:
		}
		id := "c" + strconv.Itoa(sent)
		cmds.Go(func() {
			status, took, err := signedCommand(client, addr, secret, ss.URL, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs++
			case status == http.StatusOK:
				acks = append(acks, took)
			default:
				refused[status]++
			}
		})
	}
	tick.Stop()
	cmds.Wait()
	<-ctx.Done()
	wg.Wait()
	hwm, rss := memory(pid)

	fmt.Printf("flood: %d slow %s requests of %s in flight for %s (a %d-byte write every %s); %d sent\n",
		o.slow, o.mode, mib(int64(o.size)), o.duration, o.chunk, o.every, fl.requests.Load())
	fmt.Printf("       answers: %s\n", fl.summary())
	slices.Sort(acks)
	fmt.Printf("signed commands: %d sent, %d acknowledged (200), refused %v, %d errors\n", sent, len(acks), refused, errs)
	if len(acks) > 0 {
		fmt.Printf("       acknowledgement p50 %s, p99 %s, max %s\n", pct(acks, 50), pct(acks, 99), acks[len(acks)-1])
	}
	fmt.Printf("       replies delivered through response_url so far: %d\n", side.replies.Load())
	fmt.Printf("bot memory: peak VmHWM %s (before the flood %s), peak sampled VmRSS %s, VmRSS at the end %s\n",
		mib(hwm), mib(baseHWM), mib(peakRSS.Load()), mib(rss))
	return nil
}

// flood counts what the slow senders were answered.
type flood struct {
	requests atomic.Int64
	mu       sync.Mutex
	outcomes map[string]int
}

func (f *flood) record(outcome string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.outcomes == nil {
		f.outcomes = map[string]int{}
	}
	f.outcomes[outcome]++
}

func (f *flood) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.outcomes))
	for k := range f.outcomes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s ×%d  ", k, f.outcomes[k])
	}
	return strings.TrimSpace(b.String())
}

// sender keeps one slow request in flight until ctx ends: headers with a fresh timestamp and a
// well-formed wrong signature, then the body a few bytes at a time; when the bot answers or
// hangs up, it waits o.pause and starts again.
func (f *flood) sender(ctx context.Context, addr string, o options, chunked bool) {
	for ctx.Err() == nil {
		f.requests.Add(1)
		f.record(f.slowRequest(ctx, addr, o, chunked))
		select {
		case <-ctx.Done():
		case <-time.After(o.pause):
		}
	}
}

func (f *flood) slowRequest(ctx context.Context, addr string, o options, chunked bool) string {
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return "dial error"
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var h strings.Builder
	h.WriteString("POST /slack/commands HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/x-www-form-urlencoded\r\n")
	fmt.Fprintf(&h, "X-Slack-Request-Timestamp: %d\r\nX-Slack-Signature: v0=%s\r\n", time.Now().Unix(), randomHex(32))
	if chunked {
		h.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&h, "Content-Length: %d\r\n\r\n", o.size)
	}
	if _, err := io.WriteString(conn, h.String()); err != nil {
		return "closed before headers"
	}
	answer := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answer <- "closed without answer"
			return
		}
		resp.Body.Close()
		answer <- strconv.Itoa(resp.StatusCode)
	}()
	piece := []byte(strings.Repeat("x", o.chunk))
	t := time.NewTicker(o.every)
	defer t.Stop()
	for sent := 0; sent < o.size; {
		select {
		case a := <-answer:
			return a
		case <-ctx.Done():
			return "still in flight at the end"
		case <-t.C:
		}
		n := min(len(piece), o.size-sent)
		var err error
		if chunked {
			_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", n, piece[:n])
		} else {
			_, err = conn.Write(piece[:n])
		}
		if err != nil {
			return <-answer
		}
		sent += n
	}
	if chunked {
		io.WriteString(conn, "0\r\n\r\n")
	}
	select {
	case a := <-answer:
		return a
	case <-ctx.Done():
		return "still in flight at the end"
	}
}

var commandSeq atomic.Int64

// signedCommand sends one properly signed `/meet help` and returns the status and how long the
// acknowledgement took.
func signedCommand(c *http.Client, addr, secret, sideURL, id string) (int, time.Duration, error) {
	body := url.Values{
		"team_id": {"T1"}, "channel_id": {"C1"}, "user_id": {"U1"}, "user_name": {"flood"},
		"command": {"/meet"}, "text": {"help"}, "response_url": {sideURL + "/response/" + id},
		"trigger_id": {strconv.FormatInt(commandSeq.Add(1), 10)},
	}.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/slack/commands", strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	took := time.Since(start)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, took, nil
}

// slackSide stands in for Slack: the Web API methods `bot run` calls and response_url.
type slackSide struct{ replies atomic.Int64 }

func (s *slackSide) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/response/") {
		io.Copy(io.Discard, r.Body)
		s.replies.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
		return
	}
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	switch strings.TrimPrefix(r.URL.Path, "/api/") {
	case "users.info":
		fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"name":"flood"}}`, r.Form.Get("user"))
	case "auth.test":
		io.WriteString(w, `{"ok":true,"team_id":"T1","user_id":"UBOT","bot_id":"BBOT"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
	}
}

// memory reads a process's peak and current resident set size in bytes.
func memory(pid int) (hwm, rss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			hwm = n << 10
		case "VmRSS":
			rss = n << 10
		}
	}
	return hwm, rss
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))].Round(10 * time.Microsecond)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(addr string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("bot run exited at start: %v", err)
		default:
		}
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("bot run did not serve /healthz within 30 s")
}

// stop ends the child with SIGTERM, and SIGKILL if it does not exit within ten seconds.
func stop(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}
