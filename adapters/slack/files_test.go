package slack

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/url"
	"testing"

	"github.com/meetbot/meetbot/chat"
)

func testPicture(t *testing.T, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := 0; x < 64; x++ {
		img.Set(x, x%48, color.RGBA{200, 30, 30, 255})
	}
	var b bytes.Buffer
	if err := enc(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t *testing.T) []byte {
	return testPicture(t, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) })
}

func pngOf(t *testing.T) []byte {
	return testPicture(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) })
}

var running = chat.MeetingState{Occurrence: "o1", Present: []string{"Carol"}}

// TestPostFilesInThread: a snapshot and a report land in the status message's thread through
// the three upload steps, with their bytes intact, titles and alt text.
func TestPostFilesInThread(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	ctx := context.Background()
	if err := a.Post(ctx, general, chat.Notification{Text: "Carol started presenting", Threaded: true, Meeting: running}); err != nil {
		t.Fatal(err)
	}
	status := f.callsOf("chat.postMessage")[0].TS
	snap := chat.Notification{Kinds: []chat.NoticeKind{chat.Snapshot}, Threaded: true, Meeting: running, Files: []chat.File{{
		Name: "slide-1403.jpg", MIME: "image/jpeg", Data: jpegOf(t), AltText: "Slide shared by Carol Nguyen, 14:03", Width: 64, Height: 48,
	}}}
	if err := a.Post(ctx, general, snap); err != nil {
		t.Fatal(err)
	}
	csvData := []byte("\ufeffname,role,minutes\nCarol Nguyen,chair,42\n王芳,guest,17\n")
	report := chat.Notification{Text: "Attendance report", Kinds: []chat.NoticeKind{chat.Report}, Threaded: true, Meeting: running, Files: []chat.File{
		{Name: "attendance.csv", MIME: "text/csv", Data: csvData},
		{Name: "attendance.png", MIME: "image/png", Data: pngOf(t), AltText: "Chart of attendance over time", Width: 64, Height: 48},
	}}
	if err := a.Post(ctx, general, report); err != nil {
		t.Fatal(err)
	}

	if n := len(f.callsOf("chat.postMessage")); n != 3 { // status, "started presenting", "Attendance report"
		t.Errorf("%d messages posted, want 3 (a snapshot has no text of its own)", n)
	}
	gets := f.callsOf("files.getUploadURLExternal")
	ups := f.callsOf("upload")
	dones := f.callsOf("files.completeUploadExternal")
	if len(gets) != 3 || len(ups) != 3 || len(dones) != 3 {
		t.Fatalf("steps: %d get url, %d uploads, %d completes; want 3 each", len(gets), len(ups), len(dones))
	}
	if g := gets[0].Form; g.Get("filename") != "slide-1403.jpg" || g.Get("alt_txt") != "Slide shared by Carol Nguyen, 14:03" {
		t.Errorf("snapshot asked for as %v", g)
	}
	if _, err := jpeg.Decode(bytes.NewReader(ups[0].Body)); err != nil {
		t.Errorf("uploaded snapshot does not decode as a JPEG: %v", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(ups[1].Body, []byte("\ufeff")))).ReadAll()
	if err != nil || len(rows) != 3 || rows[2][0] != "王芳" || !bytes.HasPrefix(ups[1].Body, []byte("\ufeff")) {
		t.Errorf("uploaded report: rows %q, err %v", rows, err)
	}
	if _, err := png.Decode(bytes.NewReader(ups[2].Body)); err != nil {
		t.Errorf("uploaded chart does not decode as a PNG: %v", err)
	}
	if gets[2].Form.Get("alt_txt") != "Chart of attendance over time" {
		t.Errorf("chart alt text %q", gets[2].Form.Get("alt_txt"))
	}
	for i, d := range dones {
		if d.Form.Get("channel_id") != testChan || d.Form.Get("thread_ts") != status {
			t.Errorf("file %d shared in %q thread %q, want %s thread %s", i, d.Form.Get("channel_id"), d.Form.Get("thread_ts"), testChan, status)
		}
	}
	if d := dones[0].Form.Get("files"); d != `[{"id":"F1","title":"Slide shared by Carol Nguyen, 14:03"}]` {
		t.Errorf("snapshot completed as %s", d)
	}
}

// TestPostFilesUnthreaded: without the threaded style the file goes to the channel itself.
func TestPostFilesUnthreaded(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	n := chat.Notification{Meeting: running, Files: []chat.File{{Name: "s.jpg", MIME: "image/jpeg", Data: jpegOf(t), AltText: "Slide"}}}
	if err := a.Post(context.Background(), general, n); err != nil {
		t.Fatal(err)
	}
	d := f.callsOf("files.completeUploadExternal")
	if len(d) != 1 || d[0].Form.Get("thread_ts") != "" || d[0].Form.Get("channel_id") != testChan {
		t.Fatalf("completes %+v, want one in the channel", d)
	}
	if n := len(f.callsOf("chat.postMessage")); n != 0 {
		t.Errorf("%d messages posted for a notification of only a file", n)
	}
}

// TestPostFilesRateLimitedResumes: a rate limit at any step comes back as a RateLimitError, and
// the relay's retry of the same notification resumes there: the text is posted once, every file
// uploaded and shared once.
func TestPostFilesRateLimitedResumes(t *testing.T) {
	for _, step := range []string{"files.getUploadURLExternal", "upload", "files.completeUploadExternal"} {
		t.Run(step, func(t *testing.T) {
			f := newFakeSlack(t)
			limited := func(n int) bool { return n == 2 } // the second file's step
			if step == "upload" {
				f.uploadFail = func(n int) int {
					if limited(n) {
						return http.StatusTooManyRequests
					}
					return 0
				}
			} else {
				f.on(step, func(n int, _ url.Values) (int, http.Header, string) {
					if limited(n) {
						return http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}, ""
					}
					return 0, nil, ""
				})
			}
			a, _ := newTestAdapter(t, f, &recorder{})
			n := chat.Notification{Text: "Attendance report", Threaded: true, Meeting: running, Files: []chat.File{
				{Name: "attendance.csv", MIME: "text/csv", Data: []byte("name\nCarol\n")},
				{Name: "attendance.png", MIME: "image/png", Data: pngOf(t), AltText: "Chart"},
			}}
			var rl *chat.RateLimitError
			if err := a.Post(context.Background(), general, n); !errors.As(err, &rl) {
				t.Fatalf("first Post: %v, want a RateLimitError", err)
			}
			if err := a.Post(context.Background(), general, n); err != nil {
				t.Fatalf("retry: %v", err)
			}
			var texts int
			for _, p := range f.callsOf("chat.postMessage") {
				if p.Form.Get("text") == "Attendance report" {
					texts++
				}
			}
			if texts != 1 {
				t.Errorf("text posted %d times, want once", texts)
			}
			if u := len(f.callsOf("upload")); u != 2 {
				t.Errorf("%d uploads of bytes, want 2", u)
			}
			var shared []string
			for _, d := range f.callsOf("files.completeUploadExternal") {
				if d.Status == 200 {
					shared = append(shared, d.Form.Get("files"))
				}
			}
			if len(shared) != 2 || shared[0] == shared[1] {
				t.Errorf("shared %q, want each file once", shared)
			}
		})
	}
}

// TestPostFilesRefused: Slack refusing a file for good (too large, uploads not allowed) wraps
// chat.ErrMessageRefused, and a later notification starts afresh.
func TestPostFilesRefused(t *testing.T) {
	for _, code := range []string{"file_too_large", "not_allowed", "restricted_action", "missing_scope"} {
		t.Run(code, func(t *testing.T) {
			f := newFakeSlack(t)
			f.on("files.getUploadURLExternal", func(n int, _ url.Values) (int, http.Header, string) {
				if n == 1 {
					return 200, nil, `{"ok":false,"error":"` + code + `"}`
				}
				return 0, nil, ""
			})
			a, _ := newTestAdapter(t, f, &recorder{})
			n := chat.Notification{Threaded: true, Meeting: running, Files: []chat.File{{Name: "s.jpg", MIME: "image/jpeg", Data: jpegOf(t)}}}
			if err := a.Post(context.Background(), general, n); !errors.Is(err, chat.ErrMessageRefused) {
				t.Fatalf("Post: %v, want ErrMessageRefused", err)
			}
			if err := a.Post(context.Background(), general, n); err != nil {
				t.Fatalf("next Post: %v", err)
			}
			if u := len(f.callsOf("upload")); u != 1 {
				t.Errorf("%d uploads, want 1", u)
			}
		})
	}
}

// TestPostFilesChannelGone: a channel that is gone is chat.ErrChannelGone for files too.
func TestPostFilesChannelGone(t *testing.T) {
	f := newFakeSlack(t)
	f.on("files.completeUploadExternal", func(int, url.Values) (int, http.Header, string) {
		return 200, nil, `{"ok":false,"error":"channel_not_found"}`
	})
	a, _ := newTestAdapter(t, f, &recorder{})
	n := chat.Notification{Meeting: running, Files: []chat.File{{Name: "s.jpg", MIME: "image/jpeg", Data: jpegOf(t)}}}
	if err := a.Post(context.Background(), general, n); !errors.Is(err, chat.ErrChannelGone) {
		t.Fatalf("Post: %v, want ErrChannelGone", err)
	}
}
