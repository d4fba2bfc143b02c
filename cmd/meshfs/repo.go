package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"meshfs/content"
)

// repoBlocksDir is where a repo keeps its block store.
const repoBlocksDir = "blocks"

// repoFlagHelp documents --repo for every command that takes it.
const repoFlagHelp = "the local repo `DIR` (default $MESHFS_REPO)"

// openRepoStore opens the block store of the repo in dir, creating it if
// create is set.
func openRepoStore(dir string, create bool) (*content.DiskStore, error) {
	if dir == "" {
		return nil, errors.New("no repo: give --repo DIR or set MESHFS_REPO")
	}
	blocks := filepath.Join(dir, repoBlocksDir)
	if !create && !content.IsDiskStore(blocks) {
		return nil, fmt.Errorf("no repo at %s (create one with meshfs add --repo)", dir)
	}
	return content.OpenDiskStore(blocks)
}
