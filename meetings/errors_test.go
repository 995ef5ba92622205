package meetings_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/meetbot/meetbot/meetings"
)

// Clarifications 6 and 9: the status decides first; a string result is the reason whatever
// status says; result booleans may be strings.
func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		kind   error // nil: success
		reason string
	}{
		{"True", 200, `{"status":"success","result":true}`, nil, ""},
		{"TrueString", 200, `{"status":"success","result":"true"}`, nil, ""},
		{"NoResult", 200, `{"status":"success"}`, nil, ""},
		{"False", 200, `{"status":"success","result":false}`, meetings.ErrRefused, "refused"},
		{"FalseString", 200, `{"status":"success","result":"false"}`, meetings.ErrRefused, "refused"},
		{"ReasonWithSuccessStatus", 200, `{"status":"failed","result":"Conference is busy"}`, meetings.ErrRefused, "Conference is busy"},
		{"InvalidRole", 403, `{"status":"success","result":"Invalid role"}`, meetings.ErrForbidden, "Invalid role"},
		{"NotFound", 404, `{"status":"success","result":"Neither conference nor gateway found"}`, meetings.ErrNotFound, "Neither conference nor gateway found"},
		{"IllegalValue", 400, `{"status":"success","result":"Illegal value"}`, meetings.ErrBadRequest, "Illegal value"},
		{"NotJSON", 415, `Unsupported Media Type`, meetings.ErrBadRequest, "Unsupported Media Type"},
		{"BadGateway", 502, `<html>bad gateway</html>`, meetings.ErrTransient, "Bad Gateway"},
		{"InvalidToken", 403, `{"status":"success","result":"Invalid token"}`, meetings.ErrInvalidToken, "Invalid token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sessions, locks atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/api/services/1061/new_session":
					sessions.Add(1)
					io.WriteString(w, `{"status":"success","result":{"token":"t","expires":"120"}}`)
				case "/api/services/1061/lock":
					locks.Add(1)
					w.WriteHeader(tc.status)
					io.WriteString(w, tc.body)
				default:
					io.WriteString(w, `{"status":"success","result":true}`)
				}
			}))
			defer srv.Close()
			c, _ := meetings.NewClient(srv.URL, meetings.ClientOptions{Retries: 1, RetryBackoff: 1})
			s, err := c.Open(context.Background(), meetings.Room{Alias: "1061"}, meetings.SessionOptions{DisplayName: "bot"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			err = s.Lock(context.Background())
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("Lock = %v, want success", err)
				}
				return
			}
			var pe *meetings.Error
			if !errors.As(err, &pe) || !errors.Is(err, tc.kind) || pe.Reason != tc.reason || pe.Op != "lock" {
				t.Fatalf("Lock = %#v, want kind %v, reason %q", err, tc.kind, tc.reason)
			}
			switch tc.kind {
			case meetings.ErrTransient:
				if locks.Load() != 2 {
					t.Errorf("%d attempts, want 2 (one retry)", locks.Load())
				}
			case meetings.ErrInvalidToken:
				// Started over once, repeated once, then gave up: once per failure.
				if sessions.Load() != 2 || locks.Load() != 2 {
					t.Errorf("%d new_session, %d lock; want 2 and 2", sessions.Load(), locks.Load())
				}
			default:
				if locks.Load() != 1 {
					t.Errorf("%d attempts of a final failure, want 1", locks.Load())
				}
			}
		})
	}
}
