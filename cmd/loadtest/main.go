// Command loadtest measures what N linked meetings cost one meetbot, from outside, as a company
// running every meeting room through one bot would see it.
//
// It builds the bot, starts `bot sim` in a child process with N rooms, a stand-in for Slack's Web
// API in this process (it records every message the bot posts), and one or more `bot run`
// children. It links the N meetings from N Slack channels through the real HTTP slash-command
// path with signed requests, lets them idle, then makes one person join every meeting at once and
// waits until every channel has been told. It prints:
//
//   - the link rate (slash commands acknowledged per second);
//   - resident memory and CPU of the bot processes while idle;
//   - the storm's latency (last join to last channel told), and joins lost or told twice;
//   - with PostgreSQL (-store postgres://…), the database's transactions per second at idle.
//
// Usage:
//
//	go run ./cmd/loadtest -meetings 1000
//	go run ./cmd/loadtest -meetings 10000 -replicas 3 -store 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// Every address it uses is on loopback; every loop is bounded in count and time.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	signingSecret = "loadtest-signing-secret"
	secretKey     = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	team          = "TLOAD"
	admin         = "UADMIN"
	hostPIN       = "4321"
)

type options struct {
	meetings    int
	replicas    int
	store       string
	idle        time.Duration
	concurrency int
	bot         string
	timeout     time.Duration
	profiles    string
}

func main() {
	var o options
	flag.IntVar(&o.meetings, "meetings", 1000, "meetings to link, one Slack channel each")
	flag.IntVar(&o.replicas, "replicas", 1, "bot processes sharing the store (more than 1 needs -store postgres://…)")
	flag.StringVar(&o.store, "store", "", "STORE_URL of the bots (default: an SQLite file in a temporary folder)")
	flag.DurationVar(&o.idle, "idle", 60*time.Second, "how long to measure the linked meetings idle")
	flag.IntVar(&o.concurrency, "concurrency", 32, "slash commands and joins in flight at once")
	flag.StringVar(&o.bot, "bot", "", "a built bot binary (default: build ./cmd/bot)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
	flag.StringVar(&o.profiles, "profiles", "", "a folder to save the first bot's heap and idle CPU profiles in (go tool pprof reads them)")
	flag.Parse()
	if o.replicas > 1 && !strings.HasPrefix(o.store, "postgres") {
		fmt.Fprintln(os.Stderr, "loadtest: -replicas above 1 needs -store postgres://…")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "meetbot-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := o.bot
	if bin == "" {
		bin = filepath.Join(tmp, "bot")
		build := exec.CommandContext(ctx, "go", "build", "-tags", "goolm", "-o", bin, "./cmd/bot")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build the bot: %w", err)
		}
	}
	if o.store == "" {
		o.store = "sqlite:" + filepath.Join(tmp, "meetbot.db")
	}
	if strings.HasPrefix(o.store, "postgres") {
		if err := resetPostgres(ctx, o.store); err != nil {
			return err
		}
	}

	simAddr, err := freeAddr()
	if err != nil {
		return err
	}
	simProc, err := start(ctx, bin, []string{"sim", "--listen", simAddr}, []string{"LOG_LEVEL=warn"}, filepath.Join(tmp, "sim.log"))
	if err != nil {
		return err
	}
	defer simProc.stop()
	simURL := "http://" + simAddr
	if err := waitHTTP(ctx, simURL+"/_sim/rooms"); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	fmt.Fprintf(out, "simulator on %s; adding %d rooms\n", simURL, o.meetings)
	if err := parallel(ctx, o.meetings, o.concurrency, func(i int) error {
		return postJSON(ctx, simURL+"/_sim/rooms", map[string]any{"alias": room(i), "name": "Load room " + strconv.Itoa(i), "host_pin": hostPIN})
	}); err != nil {
		return fmt.Errorf("add rooms: %w", err)
	}

	slack := newStandIn()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: slack, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // closed below
	defer hs.Close()
	slackURL := "http://" + ln.Addr().String()

	var bots []*proc
	var botURLs []string
	var pprofAddr string
	for r := range o.replicas {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		env := []string{
			"MEET_API_SERVER=" + simURL, "MEETBOT_SECRET_KEY=" + secretKey, "STORE_URL=" + o.store,
			"HTTP_ADDR=" + addr, "LOG_LEVEL=warn", "REPLICA_ID=load-" + strconv.Itoa(r+1),
			"SLACK_BOT_TOKEN=xoxb-loadtest", "SLACK_SIGNING_SECRET=" + signingSecret, "SLACK_API_URL=" + slackURL + "/api/",
			"MATRIX_HOMESERVER=",
		}
		if o.profiles != "" && r == 0 {
			pprofAddr, err = freeAddr()
			if err != nil {
				return err
			}
			env = append(env, "PPROF_ADDR="+pprofAddr)
		}
		p, err := start(ctx, bin, []string{"run"}, env, filepath.Join(tmp, fmt.Sprintf("bot-%d.log", r+1)))
		if err != nil {
			return err
		}
		defer p.stop()
		bots = append(bots, p)
		botURLs = append(botURLs, "http://"+addr)
	}
	for i, u := range botURLs {
		if err := waitHTTP(ctx, u+"/healthz"); err != nil {
			return fmt.Errorf("bot %d: %w (log: %s)", i+1, err, bots[i].tail())
		}
	}
	baseRSS := totalRSS(bots)
	fmt.Fprintf(out, "%d bot process(es) up, %.1f MiB resident before linking\n", len(bots), mib(baseRSS))

	// Link every meeting through the signed slash-command path.
	begin := time.Now()
	var refused atomic.Int64
	err = parallel(ctx, o.meetings, o.concurrency, func(i int) error {
		code, body, err := slash(ctx, botURLs[i%len(botURLs)], channel(i), "link "+room(i)+" "+hostPIN, slackURL+"/response/"+strconv.Itoa(i))
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			refused.Add(1)
			return fmt.Errorf("link %s: HTTP %d: %.200s", room(i), code, body)
		}
		return nil
	})
	if err != nil {
		return err
	}
	linkTime := time.Since(begin)
	fmt.Fprintf(out, "linked %d meetings in %s: %.0f links/s\n", o.meetings, linkTime.Round(time.Millisecond), float64(o.meetings)/linkTime.Seconds())

	// Wait until every meeting is listened to, summed over the replicas.
	if err := waitFor(ctx, 5*time.Minute, func() (bool, error) {
		n := 0
		for _, u := range botURLs {
			v, err := gauge(ctx, u+"/metrics", "meetbot_meetings_listening")
			if err != nil {
				return false, err
			}
			n += int(v)
		}
		return n >= o.meetings, nil
	}); err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	fmt.Fprintf(out, "every meeting is listened to %s after the first link\n", time.Since(begin).Round(time.Millisecond))

	// Idle: let start-up work settle, then measure.
	settle := min(10*time.Second, o.idle/3)
	if err := sleep(ctx, settle); err != nil {
		return err
	}
	cpu0, t0 := totalCPU(bots), time.Now()
	var pg0 int64
	if strings.HasPrefix(o.store, "postgres") {
		if pg0, err = pgTransactions(ctx, o.store); err != nil {
			return err
		}
	}
	var cpuProfile chan error
	if pprofAddr != "" {
		cpuProfile = make(chan error, 1)
		go func() {
			secs := max(1, int(o.idle.Seconds())-1)
			cpuProfile <- save(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs), filepath.Join(o.profiles, "cpu-idle.pprof"))
		}()
	}
	if err := sleep(ctx, o.idle); err != nil {
		return err
	}
	cpu1, t1 := totalCPU(bots), time.Now()
	if cpuProfile != nil {
		if err := <-cpuProfile; err != nil {
			return err
		}
		if err := save(ctx, "http://"+pprofAddr+"/debug/pprof/heap", filepath.Join(o.profiles, "heap-idle.pprof")); err != nil {
			return err
		}
		if err := save(ctx, "http://"+pprofAddr+"/debug/pprof/goroutine", filepath.Join(o.profiles, "goroutine-idle.pprof")); err != nil {
			return err
		}
		fmt.Fprintf(out, "profiles of bot 1 at idle saved in %s (go tool pprof -top %s)\n", o.profiles, filepath.Join(o.profiles, "heap-idle.pprof"))
	}
	rss := totalRSS(bots)
	idleCPU := (cpu1 - cpu0).Seconds() / t1.Sub(t0).Seconds() * 100
	fmt.Fprintf(out, "idle over %s: %.1f MiB resident (%.1f KiB per meeting), CPU %.1f%% of one core\n",
		o.idle, mib(rss), float64(rss-baseRSS)/1024/float64(o.meetings), idleCPU)
	if strings.HasPrefix(o.store, "postgres") {
		pg1, err := pgTransactions(ctx, o.store)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "PostgreSQL at idle: %.1f transactions/s (every statement outside a transaction is one)\n",
			float64(pg1-pg0)/t1.Sub(t0).Seconds())
	}

	// Storm: one join in every meeting at once.
	slack.expect(o.meetings)
	begin = time.Now()
	var lastJoin atomic.Int64
	err = parallel(ctx, o.meetings, o.concurrency, func(i int) error {
		err := postJSON(ctx, simURL+"/_sim/rooms/"+room(i)+"/join", map[string]any{"name": guest(i)})
		lastJoin.Store(time.Now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("storm: %w", err)
	}
	joined := time.Unix(0, lastJoin.Load())
	fmt.Fprintf(out, "storm: %d joins sent in %s\n", o.meetings, joined.Sub(begin).Round(time.Millisecond))
	waitErr := waitFor(ctx, 5*time.Minute, func() (bool, error) { return slack.toldCount() >= o.meetings, nil })
	told, doubled, last := slack.result()
	if waitErr != nil {
		fmt.Fprintf(out, "storm: only %d of %d channels were told within 5 minutes\n", told, o.meetings)
	} else {
		fmt.Fprintf(out, "storm: every channel told %s after the last join\n", last.Sub(joined).Round(time.Millisecond))
	}
	fmt.Fprintf(out, "storm: %d joins lost, %d told twice\n", o.meetings-told, doubled)
	return nil
}

func room(i int) string    { return fmt.Sprintf("load-%05d", i) }
func channel(i int) string { return fmt.Sprintf("CLOAD%05d", i) }
func guest(i int) string   { return fmt.Sprintf("Storm Guest %05d", i) }

var guestRE = regexp.MustCompile(`Storm Guest (\d{5})`)

// standIn is Slack's Web API and response_url endpoint as far as the bot uses them: every user is
// a workspace admin, every post succeeds, and each post naming a storm guest is counted.
type standIn struct {
	mux *http.ServeMux

	mu      sync.Mutex
	ts      int64
	want    int
	seen    map[string]int // "channel guest" → times told
	told    int
	doubled int
	last    time.Time
}

func newStandIn() *standIn {
	s := &standIn{ts: 1700000000, seen: map[string]int{}}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/api/", s.serveAPI)
	s.mux.HandleFunc("/response/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // only acknowledged
		io.WriteString(w, "ok")     //nolint:errcheck // as Slack answers
	})
	return s
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *standIn) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	r.ParseForm() //nolint:errcheck // a bad form is an empty one here
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-OAuth-Scopes", "commands,chat:write,users:read,usergroups:read")
	switch method {
	case "users.info":
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "user": map[string]any{ //nolint:errcheck // loopback
			"id": r.FormValue("user"), "name": "admin", "is_admin": true, "real_name": "Load Admin"}})
	case "chat.postMessage", "chat.update", "chat.postEphemeral":
		s.count(r.FormValue("channel"), r.FormValue("text")+" "+r.FormValue("blocks"))
		s.mu.Lock()
		s.ts++
		ts := fmt.Sprintf("%d.000100", s.ts)
		s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.FormValue("channel"), "ts": ts}) //nolint:errcheck // loopback
	default:
		json.NewEncoder(w).Encode(map[string]any{"ok": true}) //nolint:errcheck // loopback
	}
}

// count notes each storm guest a post names for its channel; a status message updated with the
// same roster is not a second telling, so only posts (text) of chat.postMessage are joins told.
func (s *standIn) count(ch, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.want == 0 {
		return
	}
	for _, m := range guestRE.FindAllStringSubmatch(text, -1) {
		if !strings.Contains(text, m[0]+" joined") {
			continue
		}
		k := ch + " " + m[1]
		s.seen[k]++
		switch s.seen[k] {
		case 1:
			s.told++
			s.last = time.Now()
		case 2:
			s.doubled++
		}
	}
}

func (s *standIn) expect(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want = n
}

func (s *standIn) toldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.told
}

func (s *standIn) result() (told, doubled int, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.told, s.doubled, s.last
}

// slash sends one signed slash command, as Slack does, and returns the acknowledgement.
func slash(ctx context.Context, botURL, ch, text, responseURL string) (int, string, error) {
	form := url.Values{
		"token": {"deprecated"}, "team_id": {team}, "team_domain": {"load"}, "channel_id": {ch},
		"channel_name": {strings.ToLower(ch)}, "user_id": {admin}, "user_name": {"admin"},
		"command": {"/meet"}, "text": {text}, "response_url": {responseURL}, "trigger_id": {"1.2.3"},
		"api_app_id": {"ALOAD"},
	}
	body := form.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(signingSecret))
	mac.Write([]byte("v0:" + ts + ":" + body))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, botURL+"/slack/commands", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
}

func postJSON(ctx context.Context, u string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %d: %s", u, resp.StatusCode, body)
	}
	return nil
}

// parallel runs fn(0..n-1) with at most width in flight, and returns the first error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idx := make(chan int)
	var wg sync.WaitGroup
	for range max(1, width) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := fn(i); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// proc is one child process with its log.
type proc struct {
	cmd *exec.Cmd
	log string
}

func start(ctx context.Context, bin string, args, env []string, logPath string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s %s: %w", bin, strings.Join(args, " "), err)
	}
	return &proc{cmd: cmd, log: logPath}, nil
}

func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }() //nolint:errcheck // the exit status is not the point
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill() //nolint:errcheck // as above
		<-done
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// totalRSS sums the resident memory of ps, in bytes, from /proc.
func totalRSS(ps []*proc) int64 {
	var n int64
	for _, p := range ps {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				n += kb * 1024
			}
		}
		f.Close()
	}
	return n
}

// totalCPU sums the user and system time ps have used, from /proc (clock ticks of 1/100 s).
func totalCPU(ps []*proc) time.Duration {
	var ticks int64
	for _, p := range ps {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 12 {
			u, _ := strconv.ParseInt(fields[11], 10, 64)
			k, _ := strconv.ParseInt(fields[12], 10, 64)
			ticks += u + k
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// save writes what u answers to path.
func save(ctx context.Context, u, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHTTP(ctx context.Context, u string) error {
	return waitFor(ctx, 60*time.Second, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// waitFor polls cond every 100 ms until it holds or limit passes.
func waitFor(ctx context.Context, limit time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// gauge reads one unlabelled series from a Prometheus text page.
func gauge(ctx context.Context, u, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, sc.Err()
}

// resetPostgres drops the bot's tables from an earlier run, so every run links afresh.
func resetPostgres(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redactURL(dsn), err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{t}.Sanitize()+" CASCADE"); err != nil {
			return err
		}
	}
	return nil
}

// pgTransactions reads how many transactions the bots' database has committed and rolled back.
func pgTransactions(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	// The statistics collector publishes at most every half second; read a fresh snapshot.
	if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		return 0, err
	}
	var n int64
	err = conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	// This connection's own two transactions are counted too; at a few per measurement they do
	// not change the figure.
	return n, err
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the store"
	}
	return u.Redacted()
}
