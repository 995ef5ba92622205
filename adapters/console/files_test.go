package console

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
)

// TestPostWritesFiles: a snapshot's picture and a report's CSV land in the files folder under
// names of their own (the same name twice overwrites nothing, a name cannot climb out of the
// folder), and the console prints where they are.
func TestPostWritesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "files")
	var out strings.Builder
	a := NewWithOptions(nil, &out, nil, Options{FilesDir: dir})
	ctx := context.Background()
	jpeg := []byte{0xff, 0xd8, 0xff, 0xe0, 1, 2, 3}
	snap := chat.Notification{Kinds: []chat.NoticeKind{chat.Snapshot}, Text: "Carol Nguyen is presenting",
		Files: []chat.File{{Name: "slide-2026-12-01-1403.jpg", MIME: "image/jpeg", Data: jpeg, AltText: "Slide shared by Carol Nguyen, 14:03"}}}
	for range 2 {
		if err := a.Post(ctx, Channel, snap); err != nil {
			t.Fatal(err)
		}
	}
	report := chat.Notification{Kinds: []chat.NoticeKind{chat.Report}, Text: "Attendance",
		Files: []chat.File{{Name: "../../attendance.csv", MIME: "text/csv", Data: []byte("\ufeffname\n")}}}
	if err := a.Post(ctx, Channel, report); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{
		"slide-2026-12-01-1403.jpg":   jpeg,
		"slide-2026-12-01-1403-2.jpg": jpeg,
		"attendance.csv":              []byte("\ufeffname\n"),
	}
	for name, data := range want {
		path := filepath.Join(dir, name)
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s = %q, %v; want %q", name, got, err, data)
		}
		if !strings.Contains(out.String(), "* file "+path+":") {
			t.Errorf("output does not print %s:\n%s", path, out.String())
		}
	}
	if !strings.Contains(out.String(), "Slide shared by Carol Nguyen, 14:03") {
		t.Errorf("output lacks the alt text:\n%s", out.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("files folder has %d entries, want 3", len(entries))
	}
}

// TestPostFilesWithoutFolder: with no files folder the console says the file was not saved.
func TestPostFilesWithoutFolder(t *testing.T) {
	var out strings.Builder
	a := New(nil, &out, nil)
	n := chat.Notification{Text: "Attendance", Files: []chat.File{{Name: "attendance.csv", MIME: "text/csv", Data: []byte("x")}}}
	if err := a.Post(context.Background(), Channel, n); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "* file attendance.csv not saved") {
		t.Errorf("output:\n%s", out.String())
	}
}
