// Command bot runs meetbot: it links chat channels to live meetings on the cloud platform, runs
// the meeting commands people type there, and posts who joins, leaves and presents.
//
// Usage:
//
//	bot                 the demo when no chat service is configured, else the same as bot run
//	bot run             every adapter whose settings are present, the listeners, the scheduler and
//	                    the HTTP server (/healthz, /readyz, /metrics, Slack's endpoints)
//	bot console         commands from standard input against the configured platform
//	bot demo            the simulator's demo meeting and the console, with nothing to configure
//	bot sim [--listen 127.0.0.1:8090]
//	                    serve the platform simulator, for trying the bot against it
//	bot healthcheck     exit 0 when the bot on HTTP_ADDR answers /healthz, else 1 (for containers)
//
// Settings come from the environment and an optional .env file; .env.example lists them all.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // schedules name IANA zones; a distroless image has no zoneinfo of its own

	"github.com/joho/godotenv"
)

func main() {
	getenv, err := envWithDotenv(".env")
	if err != nil {
		fmt.Fprintf(os.Stderr, "meetbot: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, getenv)
	stop()
	os.Exit(code)
}

// Main runs the bot with the given arguments, streams and settings, and returns the exit status:
// 0 after a clean shutdown, 1 when something failed while running, 2 for bad usage or settings.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if cmd == "sim" {
		return runSimCommand(ctx, args, stdout, stderr, getenv)
	}
	if cmd == "healthcheck" {
		return runHealthcheck(ctx, stdout, stderr, getenv)
	}

	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "meetbot: %v\n", err)
		return 2
	}
	if cmd == "" {
		cmd = "run"
		if !cfg.chatConfigured() {
			cmd = "demo"
		}
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "meetbot: %s takes no arguments\n%s", cmd, usage)
		return 2
	}
	if cmd == "demo" && getenv("LOG_LEVEL") == "" {
		// The demo shares the terminal with the console: only what needs attention goes there.
		cfg.LogLevel = slog.LevelWarn
	}
	logger := newLogger(stderr, cfg.LogLevel)

	switch cmd {
	case "run":
		err = runBot(ctx, cfg, logger)
	case "console":
		err = runConsole(ctx, cfg, logger, stdin, stdout)
	case "demo":
		err = runDemo(ctx, cfg, logger, stdin, stdout)
	default:
		fmt.Fprintf(stderr, "meetbot: unknown command %q\n%s", cmd, usage)
		return 2
	}
	var setting *SettingError
	switch {
	case err == nil, errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return 0
	case errors.As(err, &setting):
		fmt.Fprintf(stderr, "meetbot: %v\n", err)
		return 2
	default:
		logger.Error("meetbot stopped", "err", err)
		return 1
	}
}

const usage = `usage: bot [run | console | demo | sim [--listen ADDR] | healthcheck | help]

  (none)    the demo when no chat service is configured, else run
  run       Slack and Matrix adapters whose settings are present, meeting listeners,
            schedules, and the HTTP server on HTTP_ADDR
  console   type commands on standard input against MEET_API_SERVER
  demo      a simulated meeting and the console: nothing to configure
  sim       serve the platform simulator (default --listen 127.0.0.1:8090)
  healthcheck
            exit 0 when the bot on HTTP_ADDR answers /healthz, else 1

Settings are environment variables, optionally from .env; see .env.example.
`

// envWithDotenv reads settings from the environment first and from the file at path second, so a
// variable set by the operator always wins over .env. A missing file is not an error; a malformed
// one is.
func envWithDotenv(path string) (func(string) string, error) {
	file, err := godotenv.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		file, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return func(name string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return file[name]
	}, nil
}
