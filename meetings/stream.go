package meetings

import (
	"context"
	"errors"
)

// Events streams the meeting's events to handle until ctx is done or the session is closed.
func (s *Session) Events(ctx context.Context, handle func(Event)) error {
	return errors.New("not implemented yet")
}
