//go:build goolm

package dendritetest

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	_ "modernc.org/sqlite"
)

func enableCrypto(ctx context.Context, t testing.TB, cli *mautrix.Client) error {
	path := filepath.Join(t.TempDir(), "crypto.db")
	sqlDB, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		return err
	}
	t.Cleanup(func() { sqlDB.Close() })
	db, err := dbutil.NewWithDB(sqlDB, "sqlite")
	if err != nil {
		return err
	}
	helper, err := cryptohelper.NewCryptoHelper(cli, []byte("test pickle key"), db)
	if err != nil {
		return err
	}
	if err := helper.Init(ctx); err != nil {
		return err
	}
	cli.Crypto = helper
	return nil
}
