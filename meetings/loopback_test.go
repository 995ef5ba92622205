package meetings_test

import (
	"net"
	"net/http"
	"testing"
)

type loopback struct {
	url string
	srv *http.Server
	ln  net.Listener
}

func newLoopback(tb testing.TB, h http.Handler) *loopback {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return &loopback{url: "http://" + ln.Addr().String(), srv: srv, ln: ln}
}

func (l *loopback) close() { l.srv.Close() }
