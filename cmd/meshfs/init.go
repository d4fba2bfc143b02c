package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"

	meshpeer "meshfs/peer"
)

func runInit(_ context.Context, args []string, std stdio) error {
	fs := newFlags("init", "[--repo DIR] [--json]",
		"Creates a daemon's repo (config.toml, identity.key) without starting\n"+
			"the daemon, and prints its peer ID: what a namespace's --voters\n"+
			"lists. An existing repo is kept as it is; its peer ID is printed.", std.errout)
	repo := fs.String("repo", os.Getenv("MESHFS_REPO"), repoFlagHelp)
	asJSON := fs.Bool("json", false, `print {"id": ..., "repo": ...}`)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr(fs, "unexpected argument %q", pos[0])
	}
	if *repo == "" {
		return usageErr(fs, "give --repo DIR or set MESHFS_REPO")
	}
	if _, err := loadOrInitRepo(*repo); err != nil {
		return err
	}
	key, err := meshpeer.LoadOrCreateIdentity(filepath.Join(*repo, identityFile))
	if err != nil {
		return err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(std.out).Encode(map[string]string{"id": id.String(), "repo": *repo})
	}
	fmt.Fprintln(std.out, id)
	return nil
}
