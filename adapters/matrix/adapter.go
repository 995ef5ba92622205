package matrix

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"
	_ "modernc.org/sqlite" // the "sqlite" driver, pure Go

	"github.com/meetbot/meetbot/chat"
)

// Platform is the ChannelRef.Platform of Matrix rooms.
const Platform = "matrix"

// Adapter connects one Matrix account to the command core (chat.Handler) and offers the relay a
// chat.Poster. Create it with New, then call Run. Its methods are safe for concurrent use.
type Adapter struct {
	cfg     Config
	handler chat.Handler
	kv      SyncStore
	log     *slog.Logger

	cli       *mautrix.Client
	db        *dbutil.Database
	ownDB     *sql.DB // opened by New, closed by Close
	state     *sqlstatestore.SQLStateStore
	ownServer string
	names     botNames
	encrypted bool
	// freshState is set when the database held no room state at start.
	freshState bool

	pending *pendingChoices
	seen    *recentSet // event ids already handled, against replays within one process
	queues  *roomQueues

	syncer *syncer
}

// Key names in the SyncStore.
func (a *Adapter) key(what string) string { return "matrix/" + a.cli.UserID.String() + "/" + what }

// New checks cfg, logs in (with AccessToken, or with Password on the device kept in kv), opens the
// Matrix database (room state, and encryption keys when PickleKey is set) and prepares the sync.
// Nothing is received until Run. Errors in cfg wrap ErrConfig and name the setting.
func New(ctx context.Context, cfg Config, h chat.Handler, kv SyncStore, log *slog.Logger) (*Adapter, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if h == nil || kv == nil {
		return nil, errors.New("matrix: New needs a handler and a sync store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("platform", Platform)
	cli, err := mautrix.NewClient(cfg.Homeserver, id.UserID(cfg.UserID), cfg.AccessToken.Reveal())
	if err != nil {
		return nil, fmt.Errorf("%w: MATRIX_HOMESERVER: %v", ErrConfig, err)
	}
	cli.Log = zerologFor(log.With("component", "mautrix"))
	cli.UserAgent = "meetbot (mautrix-go)"
	// Transient failures (502/503/504, network) are retried by mautrix with the same transaction
	// id, so a retried send never posts twice. Rate limits are ours to handle: the relay paces
	// notifications itself, and replies wait for retry_after_ms.
	cli.DefaultHTTPRetries = 2
	cli.DefaultHTTPBackoff = 500 * time.Millisecond
	cli.MaxHTTPBackoff = 5 * time.Second
	cli.IgnoreRateLimit = true

	a := &Adapter{
		cfg: cfg, handler: h, kv: kv, log: log, cli: cli,
		ownServer: id.UserID(cfg.UserID).Homeserver(),
		pending:   newPendingChoices(cfg.ChoiceTTL, cfg.Now),
		seen:      newRecentSet(2048),
		queues:    newRoomQueues(),
	}
	// The database first: with encryption, a password login reuses the device whose keys it holds.
	if err := a.openDB(ctx); err != nil {
		return nil, err
	}
	if err := a.login(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.syncer = newSyncer(a)
	cli.Syncer = a.syncer
	cli.Store = &tokenStore{a: a}
	cli.StateStore = a.state
	if cfg.PickleKey != "" {
		if err := a.setupCrypto(ctx); err != nil {
			a.Close()
			return nil, fmt.Errorf("matrix encryption: %w", err)
		}
		a.encrypted = true
	} else {
		log.Warn("MATRIX_PICKLE_KEY is not set: encrypted rooms will not work")
	}
	if err := a.recoverRoomState(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.names = botNames{UserID: cli.UserID.String(), Localpart: localpart(cli.UserID)}
	if resp, err := cli.GetOwnDisplayName(ctx); err == nil && resp.DisplayName != "" {
		a.names.DisplayName = resp.DisplayName
	}
	log.Info("matrix ready", "user", cli.UserID, "device", cli.DeviceID, "encryption", a.encrypted)
	return a, nil
}

func localpart(u id.UserID) string {
	lp, _, err := u.Parse()
	if err != nil {
		return ""
	}
	return lp
}

// login sets the client's device: whoami with an access token, or a password login on the device
// id kept from the last start.
func (a *Adapter) login(ctx context.Context) error {
	if a.cfg.AccessToken != "" {
		who, err := a.cli.Whoami(ctx)
		if err != nil {
			return fmt.Errorf("matrix whoami (MATRIX_ACCESS_TOKEN): %w", err)
		}
		if who.UserID != a.cli.UserID {
			return fmt.Errorf("%w: MATRIX_ACCESS_TOKEN belongs to %s, not MATRIX_USER_ID %s", ErrConfig, who.UserID, a.cli.UserID)
		}
		a.cli.DeviceID = who.DeviceID
		return nil
	}
	device, err := a.getValue(ctx, a.key("device_id"))
	if err != nil {
		return err
	}
	if a.cfg.PickleKey != "" {
		// The device must be the one whose encryption keys the database holds: logging in again
		// to a device whose keys were lost cannot work (the homeserver keeps its old keys), so a
		// fresh or lost data folder means a new device, which the recovery key then signs.
		stored, err := a.cryptoDevice(ctx)
		if err != nil {
			return fmt.Errorf("matrix database: read the device of the encryption keys: %w", err)
		}
		if stored == "" && device != "" {
			a.log.Warn("the Matrix database holds no encryption keys (a new or lost data folder): logging in as a new device",
				"previous_device", device)
		}
		device = string(stored)
	}
	resp, err := a.cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: a.cli.UserID.String()},
		Password:                 a.cfg.Password.Reveal(),
		DeviceID:                 id.DeviceID(device),
		InitialDeviceDisplayName: a.cfg.DeviceName,
		StoreCredentials:         true,
	})
	if err != nil {
		return fmt.Errorf("matrix login (MATRIX_PASSWORD): %w", err)
	}
	if err := a.kv.PutValue(ctx, a.key("device_id"), resp.DeviceID.String()); err != nil {
		return fmt.Errorf("keep matrix device id: %w", err)
	}
	return nil
}

func (a *Adapter) getValue(ctx context.Context, key string) (string, error) {
	v, err := a.kv.GetValue(ctx, key)
	if err != nil {
		if a.cfg.IsNotFound != nil && a.cfg.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return v, nil
}

// openDB opens the database for room state and encryption keys and brings its tables up to date.
func (a *Adapter) openDB(ctx context.Context) error {
	sqlDB, dialect := a.cfg.DB, a.cfg.DBDialect
	if sqlDB == nil {
		if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("matrix data folder: %w", err)
		}
		path := filepath.Join(a.cfg.DataDir, "matrix.db")
		var err error
		sqlDB, err = sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		a.ownDB, dialect = sqlDB, "sqlite"
	}
	db, err := dbutil.NewWithDB(sqlDB, dialect)
	if err != nil {
		a.Close()
		return fmt.Errorf("matrix database: %w", err)
	}
	a.db = db
	// A database without room state yet: new, or the data folder was lost while the sync token,
	// kept in the SyncStore, was not.
	hasState, err := db.TableExists(ctx, "mx_room_state")
	if err != nil {
		a.Close()
		return fmt.Errorf("matrix database: %w", err)
	}
	a.freshState = !hasState
	a.state = sqlstatestore.NewSQLStateStore(db, dbutil.ZeroLogger(a.cli.Log.With().Str("db_section", "matrix_state").Logger()), false)
	if err := a.state.Upgrade(ctx); err != nil {
		a.Close()
		return fmt.Errorf("matrix database: upgrade room state tables: %w", err)
	}
	return nil
}

// recoverRoomState reads the state of every joined room when the database is new but the sync
// token is not: the sync resumes after the token and would never tell the bot which rooms are
// encrypted or who is in them, so it would post plain text into encrypted rooms.
func (a *Adapter) recoverRoomState(ctx context.Context) error {
	if !a.freshState {
		return nil
	}
	token, err := a.getValue(ctx, a.key("next_batch"))
	if err != nil || token == "" {
		return err
	}
	rooms, err := a.cli.JoinedRooms(ctx)
	if err != nil {
		return fmt.Errorf("matrix: list joined rooms to rebuild their state: %w", err)
	}
	a.log.Warn("the Matrix database is new but the bot has synced before (its data folder was lost or moved): reading the state of its rooms again",
		"rooms", len(rooms.JoinedRooms))
	for _, room := range rooms.JoinedRooms {
		if _, err := a.cli.State(ctx, room); err != nil {
			return fmt.Errorf("matrix: read the state of %s: %w", room, err)
		}
	}
	return nil
}

// cryptoDevice returns the device whose encryption keys the database holds, or "" when it holds
// none (a fresh data folder). mautrix keeps one account per database under the empty account id.
func (a *Adapter) cryptoDevice(ctx context.Context) (id.DeviceID, error) {
	exists, err := a.db.TableExists(ctx, "crypto_account")
	if err != nil || !exists {
		return "", err
	}
	var device string
	err = a.db.QueryRow(ctx, "SELECT device_id FROM crypto_account WHERE account_id=$1", "").Scan(&device)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id.DeviceID(device), err
}

// Close releases the database the adapter opened. Call it after Run has returned.
func (a *Adapter) Close() error {
	if a.ownDB != nil {
		err := a.ownDB.Close()
		a.ownDB = nil
		return err
	}
	return nil
}

// UserID returns the bot's Matrix user id.
func (a *Adapter) UserID() string { return a.cli.UserID.String() }

// Run receives events until ctx is done, then returns nil. A failing homeserver is retried with
// capped backoff; Run returns an error only when the homeserver rejects the bot's credentials
// (M_UNKNOWN_TOKEN) or its store fails.
func (a *Adapter) Run(ctx context.Context) error {
	// Commands already received finish (each within HandlerTimeout) before Run returns.
	defer a.queues.wait()
	backoff := time.Second
	for {
		err := a.cli.SyncWithContext(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, mautrix.MUnknownToken) || errors.Is(err, errStore) {
			return fmt.Errorf("matrix sync: %w", err)
		}
		a.log.Warn("matrix sync stopped, restarting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

var errStore = errors.New("sync store")

// tokenStore gives mautrix the sync token kept in the SyncStore. mautrix saves a token before it
// processes the batch; the syncer saves it only after the batch has been dispatched (commands
// queued, invites and kicks acted on), and Run waits for queued commands before it returns, so a
// clean restart neither replays nor misses a command. The filter id is kept in memory: it is cheap
// to create.
type tokenStore struct {
	a        *Adapter
	mu       sync.Mutex
	filterID string
}

func (s *tokenStore) SaveFilterID(_ context.Context, _ id.UserID, filterID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filterID = filterID
	return nil
}

func (s *tokenStore) LoadFilterID(context.Context, id.UserID) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.filterID, nil
}

func (s *tokenStore) SaveNextBatch(context.Context, id.UserID, string) error { return nil }

func (s *tokenStore) LoadNextBatch(ctx context.Context, _ id.UserID) (string, error) {
	v, err := s.a.getValue(ctx, s.a.key("next_batch"))
	if err != nil {
		return "", fmt.Errorf("%w: %w", errStore, err)
	}
	return v, nil
}

// syncer is mautrix's DefaultSyncer with our failure policy (capped exponential backoff, never
// fatal except a rejected token) and the sync token saved after each batch is handled.
type syncer struct {
	*mautrix.DefaultSyncer
	a        *Adapter
	mu       sync.Mutex
	failures int
}

func newSyncer(a *Adapter) *syncer {
	s := &syncer{DefaultSyncer: mautrix.NewDefaultSyncer(), a: a}
	s.OnSync(a.prepareSync)
	s.OnEvent(a.cli.StateStoreSyncHandler)
	s.OnEventType(event.StateMember, a.onMember)
	s.OnEventType(event.EventMessage, a.onMessage)
	return s
}

// ProcessResponse handles one batch, even if ctx ends meanwhile (bounded by a minute), then keeps
// its token.
func (s *syncer) ProcessResponse(ctx context.Context, resp *mautrix.RespSync, since string) error {
	s.mu.Lock()
	s.failures = 0
	s.mu.Unlock()
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.DefaultSyncer.ProcessResponse(pctx, resp, since); err != nil {
		return err
	}
	if resp.NextBatch != since {
		if err := s.a.kv.PutValue(pctx, s.a.key("next_batch"), resp.NextBatch); err != nil {
			return fmt.Errorf("%w: keep sync token: %w", errStore, err)
		}
	}
	return nil
}

// OnFailedSync waits 1 s, 2 s, 4 s … up to 30 s between failed syncs; only M_UNKNOWN_TOKEN stops.
func (s *syncer) OnFailedSync(_ *mautrix.RespSync, err error) (time.Duration, error) {
	if errors.Is(err, mautrix.MUnknownToken) {
		return 0, err
	}
	s.mu.Lock()
	s.failures++
	n := s.failures
	s.mu.Unlock()
	wait := min(time.Second<<min(n-1, 5), 30*time.Second)
	s.a.log.Warn("matrix sync failed, retrying", "err", err, "in", wait)
	return wait, nil
}

// prepareSync drops what the bot must not act on before the batch is dispatched: on the very first
// sync (no saved token) every message and every departure, since they happened before the bot
// started; later, in rooms the bot has just joined, the messages from before its join.
// State events stay, so the state store learns power levels and members.
func (a *Adapter) prepareSync(_ context.Context, resp *mautrix.RespSync, since string) bool {
	me := a.cli.UserID.String()
	for _, room := range resp.Rooms.Join {
		evts := room.Timeline.Events
		cut := 0
		if since == "" {
			cut = len(evts)
		} else {
			for i, evt := range evts {
				if evt.Type == event.StateMember && evt.GetStateKey() == me {
					if m, _ := evt.Content.Raw["membership"].(string); m == "join" {
						cut = i + 1
					}
				}
			}
		}
		if cut == 0 {
			continue
		}
		kept := make([]*event.Event, 0, len(evts))
		for i, evt := range evts {
			if i >= cut || evt.StateKey != nil {
				kept = append(kept, evt)
			}
		}
		room.Timeline.Events = kept
	}
	if since == "" {
		clear(resp.Rooms.Leave)
	}
	return true
}

// recentSet remembers the last n strings added.
type recentSet struct {
	mu    sync.Mutex
	n     int
	set   map[string]struct{}
	order []string
}

func newRecentSet(n int) *recentSet { return &recentSet{n: n, set: make(map[string]struct{}, n)} }

// add records s and reports whether it is new.
func (r *recentSet) add(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[s]; ok {
		return false
	}
	r.set[s] = struct{}{}
	r.order = append(r.order, s)
	if len(r.order) > r.n {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
	return true
}
