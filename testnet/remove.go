package testnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Remove deletes a testnet folder and everything in it (repos, logs,
// testnet.json), so the next Start begins afresh. It refuses, with
// ErrInUse, while a daemon named by a daemon.json in it still runs.
func Remove(dir string) error {
	repos, err := filepath.Glob(filepath.Join(dir, "peer-*"))
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	for _, repo := range repos {
		if pid := runningDaemon(repo); pid != 0 {
			return fmt.Errorf("%w: the daemon of %s (pid %d) is running", ErrInUse, repo, pid)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	return nil
}

// removeStaleInfo removes the daemon.json a killed daemon left in repo, and
// refuses (ErrInUse) if it names a daemon that still runs.
func removeStaleInfo(repo string) error {
	if pid := runningDaemon(repo); pid != 0 {
		return fmt.Errorf("%w: %s is the repo of a running daemon (pid %d)", ErrInUse, repo, pid)
	}
	if err := os.Remove(filepath.Join(repo, daemonFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// runningDaemon returns the pid in repo's daemon.json if that process
// exists, else 0.
func runningDaemon(repo string) int {
	b, err := os.ReadFile(filepath.Join(repo, daemonFile))
	if err != nil {
		return 0
	}
	var info daemonInfo
	if json.Unmarshal(b, &info) != nil || !pidAlive(info.PID) {
		return 0
	}
	return info.PID
}
