// Package e2e holds end-to-end tests that wire the real parts together: an adapter against its
// real chat service (Dendrite for Matrix), the command core, the relay, the SQLite store and the
// platform simulator. It has no code of its own.
package e2e
