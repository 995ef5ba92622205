package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheckTimeout bounds one probe. A container engine kills a probe that runs past its own
// timeout without saying why; answering first with a line is kinder to whoever reads its log.
const healthcheckTimeout = 3 * time.Second

// runHealthcheck asks the bot running on HTTP_ADDR whether it is alive, for a container's
// HEALTHCHECK: the image is distroless, so it has no shell or curl to write one with. It needs no
// other setting, so a probe never fails for a reason that has nothing to do with the bot's health.
func runHealthcheck(ctx context.Context, stdout, stderr io.Writer, getenv func(string) string) int {
	addr := getenv("HTTP_ADDR")
	if addr == "" {
		addr = defaultHTTPAddr
	}
	target, err := probeAddr(addr)
	if err != nil {
		fmt.Fprintf(stderr, "meetbot: healthcheck: HTTP_ADDR %q: %v\n", addr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	url := "http://" + target + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "meetbot: healthcheck: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "meetbot: healthcheck: %s: %v\n", url, err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "meetbot: healthcheck: %s answered %s\n", url, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %s\n", url)
	return 0
}

// probeAddr turns a listen address into one to dial: a server listening on every interface
// (":8080", "0.0.0.0:8080", "[::]:8080") is reached on loopback.
func probeAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("no fixed port to probe")
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		if ip.To4() != nil {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port), nil
}
