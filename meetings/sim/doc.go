// Package sim is an in-process simulator of the meeting platform (see the API page): an
// http.Handler serving checkJoin, every command under /api/services/<room>/, the event streams,
// and a control surface under /_sim/. Everything is in memory.
package sim
