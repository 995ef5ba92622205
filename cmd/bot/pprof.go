package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofTask serves Go's profiler on addr (PPROF_ADDR), apart from HTTP_ADDR: profiles show
// memory contents and goroutine stacks, so they belong on an address only operators reach,
// never on the one Slack posts to.
func (a *app) pprofTask(addr string) task {
	return task{name: "pprof", run: func(ctx context.Context) error {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return settingErr("PPROF_ADDR", "%v", err)
		}
		if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
			a.log.Warn("the profiler is served on an address other machines may reach; keep it behind a firewall", "addr", ln.Addr().String())
		}
		a.log.Info("serving the profiler", "addr", ln.Addr().String())
		// No write timeout: a CPU profile or trace streams for as long as it was asked to.
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-ctx.Done():
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return srv.Shutdown(shutdownCtx)
		}
	}}
}
