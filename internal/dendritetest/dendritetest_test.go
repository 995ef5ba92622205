package dendritetest

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix"
)

// The harness starts Dendrite, registers users who can log in, survives a deliberate restart and
// starts Dendrite again after it dies on its own.
func TestServer(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := s.RegisterUser(ctx, "harness", false)
	if err != nil {
		t.Fatal(err)
	}
	whoami := func() {
		t.Helper()
		cli, err := s.Client(u)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cli.Whoami(mautrix.WithMaxRetries(ctx, 20))
		if err != nil || resp.UserID != u.UserID {
			t.Fatalf("whoami = %+v, %v; want %s", resp, err, u.UserID)
		}
	}
	whoami()

	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	whoami()

	s.mu.Lock()
	_ = s.cmd.Process.Kill()
	s.mu.Unlock()
	for s.Crashes() == 0 {
		if ctx.Err() != nil {
			t.Fatal("the crash was never noticed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	whoami()
}
