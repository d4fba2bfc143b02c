//go:build unix

package content_test

import (
	"errors"
	"path/filepath"
	"testing"

	"meshfs/content"
)

// One process at a time: a second open of a store in use fails until the
// first is closed. Only unix has the advisory lock (lock_unix.go); the
// js/wasm build takes none.
func TestDiskStoreLockedWhileOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blocks")
	s, err := content.OpenDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := content.OpenDiskStore(dir); !errors.Is(err, content.ErrStoreLocked) {
		t.Errorf("second open: %v, want ErrStoreLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = content.OpenDiskStore(dir)
	if err != nil {
		t.Fatalf("open after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
