//go:build !unix

package content

// lockDir does nothing where advisory file locks are not available (the
// browser build keeps its blocks in IndexedDB, not in a DiskStore).
func lockDir(string) (func() error, error) { return func() error { return nil }, nil }
