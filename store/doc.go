// Package store keeps what meetbot must remember across restarts: which channel is linked to which
// meeting (with its PIN sealed at rest), per-channel notification settings, schedules, the audit
// log of who ran what, listener leases for several replicas, saved rosters and small key/value
// state such as the Matrix sync token.
//
// # Usage
//
// Store is one interface built from small ones (Links, Resealer, Settings, Schedules, Audit,
// Leases, Rosters, KV, Nonces, Pruner, Bots); a consumer should accept the smallest it needs.
// Implementations are sibling packages named by how they store: store/sqlite (embedded, the
// default) and store/postgres (several replicas). Both are one implementation over database/sql
// (store/internal/sqlstore) with one set of migrations; each only opens its database and names
// its dialect. store/storeurl opens one from the STORE_URL setting, and store/storetest is the
// conformance suite both pass.
//
// # Errors
//
// Lookups of one thing that does not exist return an error wrapping ErrNotFound. A link whose PIN
// was sealed under another MEETBOT_SECRET_KEY returns an error wrapping ErrWrongKey; listings
// return the readable links and an *UnreadableLinksError naming the others. Every operation that
// fails because the database cannot be reached wraps ErrUnavailable. No error and no log line
// ever contains a PIN: links carry it as a chat.Secret, and it is sealed with
// AES-GCM under the secret key, bound to its channel, before it reaches the database. Stores
// opened with previous keys also read PINs sealed under those, and ResealLinks moves them to the
// current key.
//
// # Concurrency
//
// Every implementation is safe for concurrent use by many goroutines and, for PostgreSQL, by
// several processes: writes lose nothing, a lease has at most one owner at a time, and ClaimRun
// grants each (schedule, slot) once.
package store
