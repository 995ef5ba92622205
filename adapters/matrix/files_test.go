package matrix

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/dendritetest"
)

func slideJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := 0; x < 64; x++ {
		img.Set(x, x%48, color.RGBA{20, 90, 200, 255})
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var testCSV = []byte("\ufeffname,minutes\nCarol Nguyen,42\n王芳,17\n")

func fileNotification(t *testing.T) (chat.Notification, []byte) {
	pic := slideJPEG(t)
	return chat.Notification{Kinds: []chat.NoticeKind{chat.Snapshot, chat.Report}, Files: []chat.File{
		{Name: "slide.jpg", MIME: "image/jpeg", Data: pic, AltText: "Slide shared by Carol Nguyen, 14:03", Width: 64, Height: 48},
		{Name: "attendance.csv", MIME: "text/csv", Data: testCSV},
	}}, pic
}

func fileEventIn(room id.RoomID, bot id.UserID, msgType event.MessageType) func(*event.Event) bool {
	return func(e *event.Event) bool {
		if e.RoomID != room || e.Sender != bot || e.Type != event.EventMessage {
			return false
		}
		c, ok := e.Content.Parsed.(*event.MessageEventContent)
		return ok && c.MsgType == msgType
	}
}

// TestPostFilesPlain: a snapshot becomes m.image with its size and type, a report m.file, both
// downloadable from the media repository as the same bytes.
func TestPostFilesPlain(t *testing.T) {
	alice := human(t, "alice")
	b := newBot(t, botOptions{})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	ctx := context.Background()
	n, pic := fileNotification(t)
	if err := b.Post(ctx, chat.ChannelRef{Platform: "matrix", Channel: room.String()}, n); err != nil {
		t.Fatal(err)
	}
	img := alice.WaitFor(t, wait, "the m.image", fileEventIn(room, b.user.UserID, event.MsgImage)).Content.AsMessage()
	if i := img.Info; i == nil || i.Width != 64 || i.Height != 48 || i.Size != len(pic) || i.MimeType != "image/jpeg" {
		t.Errorf("m.image info %+v", img.Info)
	}
	if img.Body != "Slide shared by Carol Nguyen, 14:03" || img.File != nil || img.URL == "" {
		t.Errorf("m.image body %q, file %v, url %q", img.Body, img.File, img.URL)
	}
	got := download(t, alice, img.URL)
	if _, err := jpeg.Decode(bytes.NewReader(got)); err != nil || !bytes.Equal(got, pic) {
		t.Errorf("downloaded picture differs or does not decode: %v", err)
	}
	f := alice.WaitFor(t, wait, "the m.file", fileEventIn(room, b.user.UserID, event.MsgFile)).Content.AsMessage()
	if f.Info == nil || f.Info.Size != len(testCSV) || f.Info.MimeType != "text/csv" || f.FileName != "attendance.csv" {
		t.Errorf("m.file %+v info %+v", f, f.Info)
	}
	if got := download(t, alice, f.URL); !bytes.Equal(got, testCSV) {
		t.Errorf("downloaded CSV %q", got)
	}
}

func download(t *testing.T, h *dendritetest.Human, u id.ContentURIString) []byte {
	t.Helper()
	uri, err := u.Parse()
	if err != nil {
		t.Fatalf("content uri %q: %v", u, err)
	}
	b, err := h.DownloadBytes(context.Background(), uri)
	if err != nil {
		t.Fatalf("download %s: %v", u, err)
	}
	return b
}

// TestPostFilesEncrypted: in an encrypted room the files are encrypted attachments: the media
// repository holds only ciphertext, which decrypts with the key in the (encrypted) event to the
// original bytes, and no event carries a plain URL.
func TestPostFilesEncrypted(t *testing.T) {
	srv := needHomeserver(t)
	alice := srv.NewHuman(t, newUser(t, "alice"), dendritetest.HumanOptions{Encrypted: true})
	b := newBot(t, botOptions{pickleKey: "bot pickle key"})
	room := b.room(t, alice, mautrix.ReqCreateRoom{InitialState: []*event.Event{{
		Type:    event.StateEncryption,
		Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
	}}})
	ctx := context.Background()
	waitFor(t, "alice's client to learn the bot joined", func() bool { return alice.StateStore.IsInRoom(ctx, room, b.user.UserID) })
	n, pic := fileNotification(t)
	if err := b.Post(ctx, chat.ChannelRef{Platform: "matrix", Channel: room.String()}, n); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		typ  event.MessageType
		data []byte
	}{{event.MsgImage, pic}, {event.MsgFile, testCSV}} {
		e := alice.WaitFor(t, wait, "the decrypted "+string(want.typ), fileEventIn(room, b.user.UserID, want.typ))
		if e.Mautrix.EventSource&event.SourceDecrypted == 0 {
			t.Errorf("%s event was not encrypted", want.typ)
		}
		c := e.Content.AsMessage()
		if c.URL != "" || c.File == nil {
			t.Fatalf("%s: plain url %q, file %v; want only an encrypted file", want.typ, c.URL, c.File)
		}
		cipher := download(t, alice, c.File.URL)
		if bytes.Equal(cipher, want.data) {
			t.Errorf("%s: the media repository holds the plain bytes", want.typ)
		}
		plain, err := c.File.Decrypt(cipher)
		if err != nil || !bytes.Equal(plain, want.data) {
			t.Errorf("%s: decrypted %d bytes (err %v), want the original %d", want.typ, len(plain), err, len(want.data))
		}
	}
}
