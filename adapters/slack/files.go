package slack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	slackgo "github.com/slack-go/slack"

	"github.com/meetbot/meetbot/chat"
)

// filePost is how far one notification with files got, so that the relay's retry after a rate
// limit or a network error resumes where it stopped: the text is not posted again, a file whose
// bytes reached Slack is not uploaded again, and a completed file is not shared again.
type filePost struct {
	key      [sha256.Size]byte // of the notification's text and files
	textDone bool
	thread   string // where the files go, as the text's post found it
	done     int    // files shared so far
	fileID   string // files.getUploadURLExternal's id of the next file, once asked for
	url      string // and its upload URL
	uploaded bool   // the next file's bytes reached url
}

// refusedFileCodes mean Slack will never take this file as it is.
var refusedFileCodes = []string{"file_too_large", "not_allowed", "not_allowed_token_type", "restricted_action",
	"file_uploads_disabled", "file_upload_size_restricted", "file_uploads_except_images_disabled",
	"invalid_arguments", "invalid_name", "posting_to_general_channel_denied", "ekm_access_denied",
	"missing_scope"} // an app installed before files:write was asked for

func notificationKey(n chat.Notification) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s", len(n.Text), n.Text)
	for _, f := range n.Files {
		fmt.Fprintf(h, "|%d:%s|%d:%s|%d:", len(f.Name), f.Name, len(f.AltText), f.AltText, len(f.Data))
		h.Write(f.Data)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// postWithFiles posts n's text as Post does, then each file in the thread the text went to,
// through Slack's upload flow: files.getUploadURLExternal, the bytes to the URL it returns, and
// files.completeUploadExternal, which shares the file in the channel (and thread) with its title
// and alt text. Each step is one attempt; progress is kept per channel so a retry of the same
// notification resumes at the step that failed instead of posting or uploading twice.
func (a *Adapter) postWithFiles(ctx context.Context, ch chat.ChannelRef, n chat.Notification) error {
	st := a.channelState(ch)
	// Serialises the channel's notifications with files; postText takes st.mu itself.
	st.filesMu.Lock()
	defer st.filesMu.Unlock()
	key := notificationKey(n)
	fp := st.files
	if fp == nil || fp.key != key {
		fp = &filePost{key: key}
		st.files = fp
	}
	if !fp.textDone {
		thread, err := a.postText(ctx, ch, n)
		if err != nil {
			st.files = nil
			return err
		}
		fp.textDone, fp.thread = true, thread
	}
	for fp.done < len(n.Files) {
		if err := a.uploadFile(ctx, ch, fp, n.Files[fp.done]); err != nil {
			if !retryable(err) {
				st.files = nil // given up: a later notification starts afresh
			}
			return err
		}
		fp.done++
		fp.fileID, fp.url, fp.uploaded = "", "", false
	}
	st.files = nil
	return nil
}

// retryable reports whether the relay will post the same notification again after err.
func retryable(err error) bool {
	return !errors.Is(err, chat.ErrMessageRefused) && !errors.Is(err, chat.ErrChannelGone)
}

// uploadFile runs the steps of one file's upload that fp says are still to do.
func (a *Adapter) uploadFile(ctx context.Context, ch chat.ChannelRef, fp *filePost, f chat.File) error {
	if len(f.Data) == 0 || f.Name == "" {
		return fmt.Errorf("upload to %s: file %q is empty: %w", ch, f.Name, chat.ErrMessageRefused)
	}
	if fp.fileID == "" {
		r, err := a.api.GetUploadURLExternalContext(ctx, slackgo.GetUploadURLExternalParameters{
			FileName: f.Name, FileSize: len(f.Data), AltTxt: f.AltText,
		})
		if err != nil {
			return fmt.Errorf("upload %s to %s: get upload url: %w", f.Name, ch, a.mapFileError(ch, err))
		}
		fp.fileID, fp.url = r.FileID, r.UploadURL
	}
	if !fp.uploaded {
		err := a.api.UploadToURL(ctx, slackgo.UploadToURLParameters{
			UploadURL: fp.url, Reader: bytes.NewReader(f.Data), Filename: f.Name,
		})
		if err != nil {
			return fmt.Errorf("upload %s to %s: send bytes: %w", f.Name, ch, a.mapFileError(ch, err))
		}
		fp.uploaded = true
	}
	title := f.AltText
	if title == "" {
		title = f.Name
	}
	_, err := a.api.CompleteUploadExternalContext(ctx, slackgo.CompleteUploadExternalParameters{
		Files:           []slackgo.FileSummary{{ID: fp.fileID, Title: title}},
		Channel:         ch.Channel,
		ThreadTimestamp: fp.thread,
	})
	if err != nil {
		return fmt.Errorf("upload %s to %s: complete: %w", f.Name, ch, a.mapFileError(ch, err))
	}
	return nil
}

// mapFileError is mapError with the refusals of the file methods.
func (a *Adapter) mapFileError(ch chat.ChannelRef, err error) error {
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) && slices.Contains(refusedFileCodes, se.Err) {
		return fmt.Errorf("%w: %w", chat.ErrMessageRefused, err)
	}
	return a.mapError(ch, err)
}
