package matrix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maunium.net/go/mautrix/crypto/attachment"
	"net/http"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
)

// noticeContent is an m.notice with an HTML body and an empty m.mentions: intentional mentions
// with nobody named, so no text in it can ping anyone.
func noticeContent(m message) *event.MessageEventContent {
	return &event.MessageEventContent{
		MsgType:       event.MsgNotice,
		Body:          m.Plain,
		Format:        event.FormatHTML,
		FormattedBody: m.HTML,
		Mentions:      &event.Mentions{},
	}
}

// Post sends a notification to a Matrix room as an m.notice. It implements chat.Poster: a rate
// limit (M_LIMIT_EXCEEDED) returns a *chat.RateLimitError with the homeserver's retry_after_ms; a
// room the bot cannot post in any more (M_FORBIDDEN, unknown room) returns chat.ErrChannelGone.
// Transient failures are retried a little with the same transaction id, which cannot post twice.
func (a *Adapter) Post(ctx context.Context, ch chat.ChannelRef, n chat.Notification) error {
	if ch.Platform != Platform {
		return fmt.Errorf("post to %s: not a Matrix room: %w", ch, chat.ErrChannelGone)
	}
	room := id.RoomID(ch.Channel)
	if err := a.canSendIn(ctx, room); err != nil {
		return fmt.Errorf("post to %s: %w: %w", room, chat.ErrChannelGone, err)
	}
	if n.Text != "" || len(n.Files) == 0 {
		_, err := a.cli.SendMessageEvent(ctx, room, event.EventMessage, noticeContent(renderNotification(n)))
		if err != nil {
			return fmt.Errorf("post to %s: %w", room, classify(err))
		}
	}
	for _, f := range n.Files {
		if err := a.postFile(ctx, room, f); err != nil {
			return fmt.Errorf("post %s to %s: %w", f.Name, room, err)
		}
	}
	return nil
}

// postFile uploads f to the media repository and sends it as m.image (a picture with its size)
// or m.file. In an encrypted room the bytes are encrypted first (mautrix's attachment
// encryption) and the event carries the key in content.file, with no plain URL: the homeserver
// never holds the plain picture.
func (a *Adapter) postFile(ctx context.Context, room id.RoomID, f chat.File) error {
	if len(f.Data) == 0 {
		return fmt.Errorf("empty file: %w", chat.ErrMessageRefused)
	}
	content := &event.MessageEventContent{
		MsgType:  event.MsgFile,
		Body:     f.Name,
		FileName: f.Name,
		Info:     &event.FileInfo{MimeType: f.MIME, Size: len(f.Data)},
		Mentions: &event.Mentions{},
	}
	if strings.HasPrefix(f.MIME, "image/") {
		content.MsgType = event.MsgImage
		content.Info.Width, content.Info.Height = f.Width, f.Height
		if f.AltText != "" {
			content.Body = f.AltText // the caption clients show, and what screen readers read
		}
	}
	enc, err := a.state.IsEncrypted(ctx, room)
	if err != nil {
		enc = false
	}
	data, mime := f.Data, f.MIME
	var ef *attachment.EncryptedFile
	if enc {
		ef = attachment.NewEncryptedFile()
		data = ef.Encrypt(f.Data)
		mime = "application/octet-stream"
	}
	up, err := a.cli.UploadBytes(ctx, data, mime)
	if err != nil {
		return fmt.Errorf("upload: %w", classify(err))
	}
	if ef != nil {
		content.File = &event.EncryptedFileInfo{EncryptedFile: *ef, URL: up.ContentURI.CUString()}
	} else {
		content.URL = up.ContentURI.CUString()
	}
	if _, err := a.cli.SendMessageEvent(ctx, room, event.EventMessage, content); err != nil {
		return fmt.Errorf("send: %w", classify(err))
	}
	return nil
}

// errNoEncryption refuses to send plain text into an encrypted room.
var errNoEncryption = errors.New("the room is encrypted and encryption is off (set MATRIX_PICKLE_KEY)")

// canSendIn refuses rooms the bot would leak plain text into.
func (a *Adapter) canSendIn(ctx context.Context, room id.RoomID) error {
	if a.encrypted {
		return nil
	}
	if enc, err := a.state.IsEncrypted(ctx, room); err == nil && enc {
		return errNoEncryption
	}
	return nil
}

// classify maps a homeserver error to the chat package's errors the relay decides on.
func classify(err error) error {
	if wait, ok := rateLimited(err); ok {
		return &chat.RateLimitError{RetryAfter: wait, Err: err}
	}
	if errors.Is(err, mautrix.MForbidden) || errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("%w: %w", chat.ErrChannelGone, err)
	}
	// An event too large, or a body the homeserver will never accept, is refused for good: the
	// relay splits or drops it instead of retrying it forever.
	if errors.Is(err, mautrix.MTooLarge) || errors.Is(err, mautrix.MBadJSON) || errors.Is(err, mautrix.MNotJSON) {
		return fmt.Errorf("%w: %w", chat.ErrMessageRefused, err)
	}
	return err
}

// rateLimited reports whether err is a rate limit and how long the homeserver asks to wait: its
// retry_after_ms, else its Retry-After header, else one second.
func rateLimited(err error) (time.Duration, bool) {
	var herr mautrix.HTTPError
	if !errors.As(err, &herr) {
		return 0, false
	}
	limited := herr.IsStatus(http.StatusTooManyRequests) || herr.RespError != nil && herr.RespError.ErrCode == mautrix.MLimitExceeded.ErrCode
	if !limited {
		return 0, false
	}
	if herr.RespError != nil {
		if ms, ok := herr.RespError.ExtraData["retry_after_ms"].(float64); ok && ms > 0 {
			return time.Duration(ms) * time.Millisecond, true
		}
	}
	if herr.Response != nil {
		if s, err := strconv.Atoi(herr.Response.Header.Get("Retry-After")); err == nil && s > 0 {
			return time.Duration(s) * time.Second, true
		}
	}
	return time.Second, true
}

// transient reports whether err is worth another try: a rate limit, a 5xx or a network failure.
func transient(err error) bool {
	if _, ok := rateLimited(err); ok {
		return true
	}
	var herr mautrix.HTTPError
	if errors.As(err, &herr) {
		if herr.Response == nil {
			return herr.WrappedError != nil // network error
		}
		return herr.Response.StatusCode >= 500
	}
	return false
}

const maxAttempts = 4

// retry runs f until it succeeds, fails for good, or maxAttempts tries have failed, waiting as a
// rate limit asks or backing off after other transient failures.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || attempt == maxAttempts || !transient(err) {
			return err
		}
		wait := backoff
		if w, ok := rateLimited(err); ok {
			wait = min(w, 30*time.Second)
		}
		backoff *= 2
		log.Warn(what+" failed, retrying", "err", err, "in", wait, "attempt", attempt)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// sendPatiently sends content to room, retrying rate limits and transient failures a few times
// under one transaction id, so the room never sees the message twice.
func (a *Adapter) sendPatiently(ctx context.Context, room id.RoomID, content *event.MessageEventContent) (id.EventID, error) {
	if err := a.canSendIn(ctx, room); err != nil {
		return "", err
	}
	txn := a.cli.TxnID()
	var eventID id.EventID
	err := retry(ctx, a.log.With("room", room), "send message", func() error {
		resp, err := a.cli.SendMessageEvent(ctx, room, event.EventMessage, content, mautrix.ReqSendEvent{TransactionID: txn})
		if err != nil {
			return err
		}
		eventID = resp.EventID
		return nil
	})
	return eventID, err
}
