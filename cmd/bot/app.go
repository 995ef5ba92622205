package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/meetbot/meetbot/adapters/console"
	"github.com/meetbot/meetbot/adapters/matrix"
	"github.com/meetbot/meetbot/adapters/slack"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/commands"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/relay"
	"github.com/meetbot/meetbot/scheduler"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storeurl"
)

// app is the bot wired together: the store, the platform client, the listeners' supervisor, the
// command core and the scheduler. Adapters are added by the subcommand that runs them.
type app struct {
	cfg        Config
	log        *slog.Logger
	metrics    *metrics
	store      store.Store
	client     *meetings.Client
	supervisor *relay.Supervisor
	router     *commands.Router
	scheduler  *scheduler.Scheduler
	posters    chat.PosterMux
	rights     rightsMux
}

// newApp opens the store and builds the core. Close releases what it opened.
func newApp(ctx context.Context, cfg Config, log *slog.Logger) (*app, error) {
	if cfg.APIServer == "" {
		return nil, settingErr("MEET_API_SERVER", "required: the base URL of the platform's checkJoin server")
	}
	if cfg.SecretKey == "" {
		return nil, settingErr("MEETBOT_SECRET_KEY", "required: 32 bytes, hex or base64, to seal PINs at rest (make one with: openssl rand -hex 32)")
	}
	key, err := store.ParseSecretKey(cfg.SecretKey.Reveal())
	if err != nil {
		return nil, settingErr("MEETBOT_SECRET_KEY", "%v", err)
	}
	if err := checkDataFolder(cfg.StoreURL); err != nil {
		return nil, err
	}
	previous, err := previousKeys(cfg)
	if err != nil {
		return nil, err
	}
	st, err := storeurl.Open(ctx, cfg.StoreURL, key, log.With("component", "store"), previous...)
	if err != nil {
		var setting *storeurl.URLError
		if errors.As(err, &setting) {
			return nil, settingErr("STORE_URL", "%s", setting.Reason)
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	if len(previous) > 0 {
		resealLinks(ctx, st, log.With("component", "store"))
	}
	m := newMetrics()
	client, err := meetings.NewClient(cfg.APIServer, meetings.ClientOptions{
		Logger:    log.With("component", "platform"),
		Observer:  m,
		NodeHosts: cfg.NodeHosts, // MEET_NODE_HOSTS
	})
	if err != nil {
		st.Close()
		return nil, settingErr("MEET_API_SERVER", "%v", err)
	}
	a := &app{
		cfg:     cfg,
		log:     log,
		metrics: m,
		store:   st,
		client:  client,
		posters: chat.PosterMux{},
		rights:  rightsMux{},
	}
	a.supervisor = &relay.Supervisor{
		Store:     st,
		Client:    client,
		Poster:    a.posters,
		ReplicaID: cfg.ReplicaID,
		BotName:   cfg.BotName,
		Logger:    log.With("component", "relay"),
		Observer:  relayMetrics{m},

		RejoinAfterEnd:   cfg.Relay.RejoinAfterEnd,
		JoinURL:          cfg.JoinURL,
		SnapshotInterval: cfg.Relay.SnapshotInterval,
	}
	a.scheduler, err = scheduler.New(scheduler.Config{
		Store:     st,
		Handler:   chat.HandlerFunc(func(ctx context.Context, req chat.Request) chat.Reply { return a.router.Handle(ctx, req) }),
		Poster:    a.posters,
		Rights:    a.rights,
		DefaultTZ: cfg.ScheduleTZ,
		ReplicaID: cfg.ReplicaID,
		Logger:    log,

		MaxPerChannel: cfg.Limits.MaxPerChannel,
		MinInterval:   cfg.Limits.MinInterval,
		Pruner:        st, // audit entries and schedule runs older than AUDIT_RETENTION, daily
		Retention:     cfg.Limits.AuditRetention,
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("start scheduler: %w", err)
	}
	a.router = commands.New(commands.Config{
		Store:            st,
		Client:           client,
		Meetings:         a.supervisor,
		Scheduler:        a.scheduler,
		BotName:          cfg.BotName,
		DefaultCloud:     cfg.DefaultCloud,
		APIServer:        cfg.APIServer,
		DefaultTimeZone:  cfg.ScheduleTZ.String(),
		SnapshotInterval: cfg.Relay.SnapshotInterval,
		Recorder:         cfg.Recorder,
		JoinURL:          cfg.JoinURL,
		Logger:           log.With("component", "commands"),
		Observer:         m.CommandDone,
	})
	return a, nil
}

// Close releases the store. Call it after run has returned.
func (a *app) Close() error { return a.store.Close() }

// task is one long-running part of the bot. It returns nil when its work is done (the console at
// end of input), which stops the bot as cleanly as a signal does.
type task struct {
	name string
	run  func(ctx context.Context) error
}

// run runs the listeners, the scheduler and every task together until ctx ends or one of them
// returns; then it stops the rest and waits for them. The listeners go last, so every session is
// ended and every lease handed back after the adapters have stopped taking commands.
func (a *app) run(ctx context.Context, tasks ...task) error {
	coreCtx, stopCore := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCore()
	coreDone := make(chan error, 2)
	go func() { coreDone <- a.supervisor.Run(coreCtx) }()
	go func() { coreDone <- a.scheduler.Run(coreCtx) }()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Go(func() {
			err := t.run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				err = fmt.Errorf("%s: %w", t.name, err)
				cancel(err)
				return
			}
			cancel(nil) // a task that finishes, like the console at end of input, ends the run
		})
	}
	stopped := 0 // core parts that have returned
	select {
	case <-ctx.Done():
	case err := <-coreDone:
		stopped++
		cancel(errors.Join(errors.New("the listeners or the scheduler stopped early"), err))
	}
	wg.Wait()
	a.log.Info("shutting down: ending sessions and handing back leases")
	stopCore()
	var shutdownErr error
	for ; stopped < cap(coreDone); stopped++ {
		if err := <-coreDone; err != nil && !errors.Is(err, context.Canceled) {
			shutdownErr = errors.Join(shutdownErr, err)
		}
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return errors.Join(cause, shutdownErr)
	}
	return shutdownErr
}

// httpTask serves /healthz, /readyz, /metrics and whatever else mux has on addr.
func (a *app) httpTask(addr string, mux *http.ServeMux) task {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := a.store.GetSettings(ctx, chat.ChannelRef{Platform: "readyz", Channel: "probe"}); err != nil {
			a.log.Warn("not ready: store does not answer", "err", err)
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", a.metrics.handler())
	return task{name: "http", run: func(ctx context.Context) error {
		srv := newHTTPServer(addr, mux)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return settingErr("HTTP_ADDR", "%v", err)
		}
		a.log.Info("serving HTTP", "addr", ln.Addr().String())
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return srv.Shutdown(shutdownCtx)
		}
	}}
}

// The HTTP server's bounds. Slack's requests are small and sent at once, /metrics answers in
// milliseconds, and nothing on this server streams, so a connection that is slow to send its
// request, slow to take its answer or idle between requests is dropped rather than held.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 10 * time.Second // headers and body; /slack/* cuts bodies sooner
	httpWriteTimeout      = 15 * time.Second
	httpIdleTimeout       = 60 * time.Second
	httpMaxHeaderBytes    = 16 << 10 // Slack sends a dozen short headers; a proxy adds a few
)

// newHTTPServer is the bot's HTTP server on addr, with the bounds above.
func newHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
	}
}

// runBot is `bot run`: every configured adapter, the listeners, the scheduler and HTTP.
func runBot(ctx context.Context, cfg Config, log *slog.Logger) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	mux := http.NewServeMux()
	tasks := []task{a.httpTask(cfg.HTTPAddr, mux)}
	if cfg.PprofAddr != "" {
		tasks = append(tasks, a.pprofTask(cfg.PprofAddr))
	}
	if cfg.Slack.Enabled() {
		s, err := slack.New(slack.Config{
			BotToken:           cfg.Slack.BotToken,
			SigningSecret:      cfg.Slack.SigningSecret,
			AppToken:           cfg.Slack.AppToken,
			Hosts:              cfg.Slack.Hosts,
			APIURL:             cfg.Slack.APIURL,
			Replay:             a.store, // shared by every replica on the database
			MaxUnverifiedReads: cfg.Slack.MaxUnverifiedReads,
			Refused:            a.metrics.slackRefused(),
			Home:               a.slackHome(),
		}, a.router, log.With("component", "slack"))
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		s.Register(mux)
		a.posters["slack"], a.rights["slack"] = s, s
		tasks = append(tasks, task{name: "slack", run: s.Run})
	}
	if cfg.Matrix.Enabled() {
		// One Matrix account syncs from one process: a second would answer every command twice.
		matrixLease := "adapter:matrix:" + cfg.Matrix.UserID
		if ok, err := a.store.ClaimLease(ctx, matrixLease, cfg.ReplicaID, adapterLeaseTTL); err != nil {
			return fmt.Errorf("claim the Matrix adapter: %w", err)
		} else if !ok {
			owner, _, _ := a.store.LeaseHolder(ctx, matrixLease)
			return settingErr("MATRIX_HOMESERVER", "replica %s already runs the Matrix adapter for %s; give the MATRIX_ settings to one replica only", owner, cfg.Matrix.UserID)
		}
		m, err := matrix.New(ctx, matrix.Config{
			Homeserver:  cfg.Matrix.Homeserver,
			UserID:      cfg.Matrix.UserID,
			AccessToken: cfg.Matrix.AccessToken,
			Password:    cfg.Matrix.Password,
			PickleKey:   cfg.Matrix.PickleKey,
			Allow:       cfg.Matrix.Allow,
			DataDir:     cfg.Matrix.DataDir,
			IsNotFound:  func(err error) bool { return errors.Is(err, store.ErrNotFound) },
			// The recovery key, when the bot creates its identity, goes to standard error.
			RecoveryKey:     cfg.Matrix.RecoveryKey,
			RequireVerified: cfg.Matrix.RequireVerified,
		}, a.router, a.store, log.With("component", "matrix"))
		if err != nil {
			a.store.ReleaseLease(context.WithoutCancel(ctx), matrixLease, cfg.ReplicaID)
			return fmt.Errorf("matrix: %w", err)
		}
		a.posters["matrix"], a.rights["matrix"] = m, m
		// Closed after run returns, so the listeners' last posts on shutdown still go out.
		defer m.Close()
		tasks = append(tasks, task{name: "matrix", run: func(ctx context.Context) error {
			return a.holdingLease(ctx, matrixLease, m.Run)
		}})
	}
	a.supervisor.Platforms = slices.Collect(maps.Keys(a.posters))
	return a.run(ctx, tasks...)
}

// slackHome is the Slack Home tab's source; who is in now comes from the relay's listeners.
func (a *app) slackHome() slackHome {
	if a.cfg.JoinURL.IsZero() {
		a.log.Info("MEET_JOIN_URL is not set: no Join buttons and no Slack call cards")
	}
	return slackHome{Links: a.store, JoinURL: a.cfg.JoinURL, Live: a.supervisor.Live, Log: a.log.With("component", "slack-home")}
}

// adapterLeaseTTL bounds how long a crashed replica keeps the Matrix adapter from starting
// elsewhere.
const adapterLeaseTTL = 30 * time.Second

// holdingLease runs run while this replica holds the lease key, renewing it, and hands it back
// when run returns. Losing the lease stops run with an error: another replica has taken over.
func (a *app) holdingLease(ctx context.Context, key string, run func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		tick := time.NewTicker(adapterLeaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				ok, err := a.store.RenewLease(ctx, key, a.cfg.ReplicaID, adapterLeaseTTL)
				if err != nil {
					a.log.Warn("renew lease; will retry", "lease", key, "err", err)
					continue
				}
				if !ok {
					cancel(fmt.Errorf("lost lease %s to another replica", key))
					return
				}
			}
		}
	}()
	err := run(ctx)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	if rerr := a.store.ReleaseLease(rctx, key, a.cfg.ReplicaID); rerr != nil {
		a.log.Warn("hand back lease", "lease", key, "err", rerr)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// runConsole is `bot console`: the console adapter against the configured platform.
func runConsole(ctx context.Context, cfg Config, log *slog.Logger, in io.Reader, out io.Writer) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	c := a.console(in, out, cfg.Matrix.DataDir)
	return a.run(ctx, task{name: "console", run: c.Run})
}

// console makes the console adapter and registers it as the only platform. At a terminal its
// command history is kept in dataDir, and the files it is sent are written to dataDir/files.
func (a *app) console(in io.Reader, out io.Writer, dataDir string) *console.Adapter {
	c := console.NewWithOptions(in, out, a.router, console.Options{
		HistoryPath: filepath.Join(dataDir, "console_history"),
		Commands:    a.router.CommandWords(),
		// Slide snapshots and attendance reports, where the console can show their paths.
		FilesDir: filepath.Join(dataDir, "files"),
	})
	a.posters["console"], a.rights["console"] = c, c
	a.supervisor.Platforms = []string{"console"}
	return c
}

// rightsMux asks the adapter of a channel's platform what a user may do there now.
type rightsMux map[string]chat.RightsResolver

func (m rightsMux) Rights(ctx context.Context, ch chat.ChannelRef, user chat.UserRef) (chat.Rights, error) {
	r, ok := m[ch.Platform]
	if !ok {
		return chat.Anyone, fmt.Errorf("no adapter for %s runs here", ch.Platform)
	}
	return r.Rights(ctx, ch, user)
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
