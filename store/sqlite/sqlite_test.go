package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storetest"
)

// newTestDB gives each test its own database file in a temporary folder.
func newTestDB(tb testing.TB) storetest.Opener {
	path := filepath.Join(tb.TempDir(), "data", "meetbot.db")
	return func(ctx context.Context, key []byte) (store.Store, error) {
		return Open(ctx, path, key, nil)
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, newTestDB) }

func BenchmarkHotReads(b *testing.B) { storetest.Bench(b, newTestDB) }
