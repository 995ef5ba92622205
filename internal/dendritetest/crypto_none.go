//go:build !goolm

package dendritetest

import (
	"context"
	"testing"

	"maunium.net/go/mautrix"
)

func enableCrypto(_ context.Context, t testing.TB, _ *mautrix.Client) error {
	t.Skip("SKIP: encryption tests need -tags goolm")
	return nil
}
