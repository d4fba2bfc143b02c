//go:build unix

package content

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on dir/LOCK, so that one
// process at a time uses a store (and may clean up its temporary files).
// The lock ends with the process, however it ends.
func lockDir(dir string) (release func() error, err error) {
	f, err := os.OpenFile(dir+string(os.PathSeparator)+diskLockFile, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrStoreLocked, dir)
		}
		return nil, err
	}
	return f.Close, nil
}
