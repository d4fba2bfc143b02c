package mount

import (
	"fmt"
	"os"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"meshfs/fsclient"
)

// firstAutomaticIno is where go-fuse numbers inodes the daemon gave no
// number, far above the namespace's own.
const firstAutomaticIno = 1 << 62

// Mount mounts the namespace c serves at the directory mountpoint and
// returns the running server once the kernel has the mount: call its
// Wait to block until it is unmounted, and its Unmount to unmount it. The
// mount needs /dev/fuse and either root or the fusermount helper.
func Mount(mountpoint string, c *fsclient.Client, cfg Config) (*fuse.Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &meshFS{c: c, cfg: cfg, now: time.Now}
	ttl := cfg.AttrTTL
	opts := &gofs.Options{
		MountOptions: fuse.MountOptions{
			FsName:      cfg.FsName,
			Name:        "meshfs",
			DirectMount: true,
			// Root mounts and unmounts itself, and then reports the
			// kernel's error (EBUSY) rather than the fallback's, a missing
			// fusermount; others need fusermount.
			DirectMountStrict: os.Geteuid() == 0,
			MaxWrite:          1 << 20,
			Debug:             cfg.Debug,
			DisableXAttrs:     true,
		},
		EntryTimeout:      &ttl,
		AttrTimeout:       &ttl,
		FirstAutomaticIno: firstAutomaticIno,
		UID:               cfg.UID,
		GID:               cfg.GID,
	}
	server, err := gofs.Mount(mountpoint, m.newNode(), opts)
	if err != nil {
		return nil, fmt.Errorf("mount: %s: %w", mountpoint, err)
	}
	return server, nil
}
