//go:build !(js && wasm)

package blockstore

import (
	"context"
	"errors"
	"testing"
)

// harnesses lists the backends the Store tests run over: natively, memory
// only (IndexedDB runs under GOOS=js GOARCH=wasm; see idb_js_test.go).
func harnesses() []harness { return []harness{memHarness()} }

func TestOpenUnavailableOutsideBrowser(t *testing.T) {
	if _, err := Open(context.Background(), DefaultConfig()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open = %v, want ErrUnavailable", err)
	}
}
