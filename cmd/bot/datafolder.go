package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkDataFolder makes sure an SQLite store's folder can be written by this process before the
// store is opened. SQLite's own answer, "unable to open database file (14)", names neither the
// folder nor the fix; the usual cause is a container's /data mounted from a host folder that the
// image's non-root user (65532) does not own.
func checkDataFolder(storeURL string) error {
	path, ok := strings.CutPrefix(storeURL, "sqlite:")
	if !ok || path == ":memory:" || path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	// The store makes missing folders; what must be writable is the nearest one that exists.
	for {
		info, err := os.Stat(dir)
		if err == nil {
			if !info.IsDir() {
				return settingErr("STORE_URL", "%s is not a folder, so the database %s cannot be made there", dir, path)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return unwritable(dir, path, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
	probe, err := os.CreateTemp(dir, ".meetbot-write-check-*")
	if err != nil {
		return unwritable(dir, path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

func unwritable(dir, path string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("check the data folder %s: %w", dir, err)
	}
	return settingErr("STORE_URL", "the folder %s (for %s) is not writable by this process (uid %d). "+
		"Give it to that user (chown -R %d:%d %s on the host), or use a named volume, which the image prepares for it",
		dir, path, os.Getuid(), os.Getuid(), os.Getgid(), dir)
}
