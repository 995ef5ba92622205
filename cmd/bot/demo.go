package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings/sim"
)

// demoIntro is what a newcomer reads first.
const demoIntro = `meetbot demo — a simulated meeting, "Demo stand-up", is running; people will come and go.
Try:   link demo 1234     link this console to it (1234 is the host PIN)
       who                who is in the meeting
       mute <name>        a unique part of a name is enough, e.g. mute 张
       help               every command
Joins, leaves and presentations appear here as lines starting with "*". Tab completes
commands and names, the arrow keys recall earlier ones. Ctrl-D quits.
`

// runDemo is `bot demo`, and `bot` with no chat service configured: the simulator's demo meeting
// on loopback, SQLite under ./data, and the console.
func runDemo(ctx context.Context, cfg Config, log *slog.Logger, in io.Reader, out io.Writer) error {
	srv := sim.New(sim.Options{Logger: log.With("component", "sim")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the demo simulator: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // ends with Close below
	defer hs.Close()
	defer srv.Close() // ends the event streams first, so closing the server does not wait on them

	srv.AddDemoRoom() // before the first command can name it
	demoCtx, stopDemo := context.WithCancel(ctx)
	defer stopDemo()
	go srv.RunDemo(demoCtx, sim.DemoOptions{})

	cfg.APIServer = "http://" + ln.Addr().String()
	if cfg.StoreURL == "sqlite:data/meetbot.db" {
		cfg.StoreURL = "sqlite:data/demo.db"
	}
	if cfg.SecretKey == "" {
		key, err := demoSecretKey(filepath.Join("data", "demo.key"))
		if err != nil {
			return err
		}
		cfg.SecretKey = key
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	// The simulator lives as long as this process, so links from an earlier demo point at a
	// simulator that is gone; forget them rather than retry them forever.
	if err := forgetOtherServers(ctx, a, cfg.APIServer); err != nil {
		return err
	}
	c := a.console(in, out, "data")
	io.WriteString(out, demoIntro)
	return a.run(ctx, task{name: "console", run: c.Run})
}

func forgetOtherServers(ctx context.Context, a *app, apiServer string) error {
	links, err := a.store.AllLinks(ctx)
	if err != nil {
		return fmt.Errorf("list demo links: %w", err)
	}
	for _, l := range links {
		if strings.TrimRight(l.Meeting.APIServer, "/") != apiServer {
			if err := a.store.DeleteLink(ctx, l.Channel); err != nil {
				return fmt.Errorf("forget stale demo link of %s: %w", l.Channel, err)
			}
		}
	}
	return nil
}

// demoSecretKey reads the demo's own sealing key, making one on first use, so the demo needs no
// configuration. It is never used outside the demo.
func demoSecretKey(path string) (chat.Secret, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return chat.Secret(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read demo key: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	key := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("make %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write demo key: %w", err)
	}
	return chat.Secret(key), nil
}

// runSimCommand is `bot sim`: the platform simulator with its demo room, served on --listen.
func runSimCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fset := flag.NewFlagSet("sim", flag.ContinueOnError)
	fset.SetOutput(stderr)
	listen := fset.String("listen", "127.0.0.1:8090", "address to serve the simulator on")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(getenv("LOG_LEVEL"), "info"))); err != nil {
		fmt.Fprintln(stderr, "meetbot: LOG_LEVEL: want debug, info, warn or error")
		return 2
	}
	log := newLogger(stderr, level)
	srv := sim.New(sim.Options{Logger: log})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "meetbot: --listen: %v\n", err)
		return 2
	}
	srv.AddDemoRoom()
	go srv.RunDemo(ctx, sim.DemoOptions{})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "simulator serving on http://%s (set MEET_API_SERVER to it); demo room \"demo\", host PIN 1234, guest PIN 5678; control API under /_sim/\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		hs.Shutdown(shutdownCtx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("simulator stopped", "err", err)
		return 1
	}
	return 0
}
