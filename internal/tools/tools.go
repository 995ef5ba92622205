//go:build tools

// Package tools pins the modules meetbot depends on while the packages that use them are being
// written, so `go mod tidy` keeps their versions. It is never built.
package tools

import (
	_ "github.com/go-co-op/gocron/v2"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/gorilla/websocket"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/joho/godotenv"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/slack-go/slack"
	_ "github.com/slack-go/slack/slacktest"
	_ "github.com/slack-go/slack/socketmode"
	_ "github.com/tmaxmax/go-sse"
	_ "go.mau.fi/util/dbutil"
	_ "maunium.net/go/mautrix"
	_ "maunium.net/go/mautrix/crypto/cryptohelper"
	_ "maunium.net/go/mautrix/format"
	_ "maunium.net/go/mautrix/synapseadmin"
	_ "modernc.org/sqlite"
)
