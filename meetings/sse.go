package meetings

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// errEventTooLarge ends a stream whose event grows beyond maxEventSize.
var errEventTooLarge = errors.New("event stream: event too large")

const maxEventSize = 16 << 20

// sseReader reads server-sent events (clarification 1): fields in any order, several data lines
// joined with newlines, retry honoured, comment lines ignored, lines ended by LF, CRLF or CR. It
// keeps its buffers small until an event needs more.
type sseReader struct {
	r       *bufio.Reader
	long    []byte // a line longer than r's buffer, assembled
	restBuf []byte // what follows a lone CR in a chunk
	rest    []byte
	hasRest bool
	// dispatched says data was handed out and is to be cleared on the next call.
	dispatched bool
	data       []byte
	name       []byte
	id         string // the last event id; it persists across events, as the SSE standard says
	hasData    bool
	retry      time.Duration // the last retry: field, 0 if none
	activity   *atomic.Int64 // if set, the UnixNano time of the last line read
}

func newSSEReader(r io.Reader, size int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, size)}
}

// next returns the next event. Its data is valid until the following call. At the end of the
// input it returns io.EOF (an event cut short by the end is dropped).
func (p *sseReader) next() (name, id string, data []byte, err error) {
	if p.dispatched {
		p.data, p.dispatched = p.data[:0], false
	}
	for {
		line, err := p.nextLine()
		if err != nil {
			return "", "", nil, err
		}
		if len(line) > 0 {
			if err := p.field(line); err != nil {
				return "", "", nil, err
			}
			continue
		}
		if name, ok := p.dispatch(); ok {
			p.dispatched = true
			return name, p.id, p.data, nil
		}
	}
}

// nextLine returns the next line, whichever of LF, CRLF or a lone CR ended it. It is valid until
// the next call.
func (p *sseReader) nextLine() ([]byte, error) {
	if p.hasRest {
		if i := bytes.IndexByte(p.rest, '\r'); i >= 0 {
			line := p.rest[:i]
			p.rest = p.rest[i+1:]
			return line, nil
		}
		p.hasRest = false
		return p.rest, nil
	}
	chunk, err := p.readLine()
	if err != nil {
		return nil, err
	}
	if p.activity != nil {
		p.activity.Store(time.Now().UnixNano())
	}
	if n := len(chunk); n > 0 && chunk[n-1] == '\r' {
		chunk = chunk[:n-1]
	}
	if i := bytes.IndexByte(chunk, '\r'); i >= 0 {
		p.restBuf = append(p.restBuf[:0], chunk[i+1:]...)
		p.rest, p.hasRest = p.restBuf, true
		return chunk[:i], nil
	}
	return chunk, nil
}

// readLine returns the next line without its LF. It is valid until the next call.
func (p *sseReader) readLine() ([]byte, error) {
	line, err := p.r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF && len(line) > 0 {
			// An unterminated last line: the event it belongs to is never dispatched.
			return nil, io.EOF
		}
		return nil, err
	}
	p.long = append(p.long[:0], line...)
	for {
		line, err = p.r.ReadSlice('\n')
		if len(p.long)+len(line) > maxEventSize {
			return nil, errEventTooLarge
		}
		p.long = append(p.long, line...)
		switch {
		case err == nil:
			return p.long[:len(p.long)-1], nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return nil, err
		}
	}
}

// field applies one non-blank line.
func (p *sseReader) field(line []byte) error {
	if line[0] == ':' {
		return nil // a comment: keep-alive
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "event":
		p.name = append(p.name[:0], value...)
	case "data":
		if len(p.data)+len(value)+1 > maxEventSize {
			return errEventTooLarge
		}
		if p.hasData {
			p.data = append(p.data, '\n')
		}
		p.data = append(p.data, value...)
		p.hasData = true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			if string(value) != p.id {
				p.id = string(value)
			}
		}
	case "retry":
		if n, ok := digits(value); ok {
			p.retry = time.Duration(n) * time.Millisecond
		}
	}
	return nil
}

// dispatch ends the current event at a blank line. An event with neither data nor a name is
// nothing; one with a name but no data is dispatched with empty data (leniently: the platform
// sends "data: null", but an empty body means the same).
func (p *sseReader) dispatch() (string, bool) {
	if !p.hasData && len(p.name) == 0 {
		return "", false
	}
	name := eventName(p.name)
	p.name = p.name[:0]
	if !p.hasData {
		p.data = p.data[:0]
	}
	p.hasData = false
	return name, true
}

func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// knownNames interns the event names the platform sends.
var knownNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"participant_create", "participant_update", "participant_delete",
		"participant_sync_begin", "participant_sync_end", "presentation_start", "presentation_stop",
		"presentation_frame", "service_update", "conference_update", "layout", "message",
		"message_received", "stage", "call_disconnected", "disconnect", "bye", "refresh_token"} {
		m[n] = n
	}
	return m
}()

// eventName returns the event's name without allocating for the names the platform sends; an
// event without a name is a "message", as the SSE standard says.
func eventName(b []byte) string {
	if len(b) == 0 {
		return "message"
	}
	if n, ok := knownNames[string(b)]; ok {
		return n
	}
	return string(b)
}

// EventReader decodes a server-sent event stream of the platform (clarification 1) into Events.
// Session.Events uses one per connection; it is exported for tools and tests that read recorded
// streams. It is not safe for concurrent use.
type EventReader struct{ p *sseReader }

// NewEventReader returns a reader of the stream r.
func NewEventReader(r io.Reader) *EventReader {
	return &EventReader{p: newSSEReader(r, streamBufSize)}
}

// Next returns the next event, decoded with DecodeEvent. At the end of the stream it returns
// io.EOF; an event cut short by the end is dropped.
func (r *EventReader) Next() (Event, error) {
	name, id, data, err := r.p.next()
	if err != nil {
		return nil, err
	}
	return DecodeEvent(name, id, data), nil
}

// Retry returns the reconnection time the stream asked for with a retry field, or 0.
func (r *EventReader) Retry() time.Duration { return r.p.retry }

// LastID returns the id of the last event that had one.
func (r *EventReader) LastID() string { return r.p.id }
