package console

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/meetbot/meetbot/chat"
)

// saveFile writes f under Options.FilesDir with a name of its own (an existing file is never
// overwritten) and returns the line that tells the console where it is.
func (a *Adapter) saveFile(f chat.File) string {
	what := f.AltText
	if what == "" {
		what = f.MIME
	}
	what = Sanitize(OneLine(what))
	if a.opts.FilesDir == "" {
		return fmt.Sprintf("file %s not saved (no data folder): %s", safeFileName(f.Name), what)
	}
	path, err := writeNew(a.opts.FilesDir, safeFileName(f.Name), f.Data)
	if err != nil {
		return fmt.Sprintf("file %s could not be saved: %v", safeFileName(f.Name), err)
	}
	return fmt.Sprintf("file %s: %s", path, what)
}

// writeNew writes data to dir/name, or to dir/name-2, -3, … when that exists, creating dir.
func writeNew(dir, name string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("make %s: %w", dir, err)
	}
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 1; i < 1000; i++ {
		path := filepath.Join(dir, name)
		if i > 1 {
			path = filepath.Join(dir, fmt.Sprintf("%s-%d%s", base, i, ext))
		}
		// O_EXCL: two posts of the same name never overwrite each other.
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = fh.Write(data)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path) //nolint:errcheck // best effort: a half-written file is worse than none
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		return path, nil
	}
	return "", fmt.Errorf("too many files called %s", name)
}

// safeFileName keeps a file name to one plain path element of letters, digits, '.', '-' and
// '_', since names come from the relay and may carry a display name.
func safeFileName(name string) string {
	var b strings.Builder
	for _, r := range filepath.Base(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if len(s) > 100 {
		s = s[len(s)-100:]
	}
	if s == "" {
		s = "file"
	}
	return s
}
