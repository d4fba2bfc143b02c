package mount

import (
	"context"
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
//
// The kernel checks permissions (default_permissions) against the owners
// and modes the namespace holds, so the mount process (root, as a rule)
// must serve every user alike: c must be a client not made by
// [fsclient.Client.As], and the mount makes each new inode owned by the
// user and group of the process that made it.
func Mount(mountpoint string, c *fsclient.Client, cfg Config) (*fuse.Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The kernel asks for the root's attributes to check permissions
	// before the mount is ready, so a daemon that does not answer would
	// fail it with a bare EIO: say so first.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	_, err := c.Lstat(ctx, "/")
	cancel()
	if err != nil {
		return nil, fmt.Errorf("mount: %s: the namespace's root: %w", mountpoint, err)
	}
	m := &meshFS{c: c, cfg: cfg, now: time.Now}
	if cfg.CacheSize > 0 {
		m.cache = openBlockCache(c, cfg)
	}
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
			AllowOther:        cfg.AllowOther,
			// The kernel checks every access against the inodes' owners
			// and modes, as a local file system does.
			Options: []string{"default_permissions"},
		},
		EntryTimeout:      &ttl,
		AttrTimeout:       &ttl,
		FirstAutomaticIno: firstAutomaticIno,
	}
	// gofs.Mount, but a mount that the kernel made and that then fails
	// its first request (the daemon stopped answering meanwhile) is
	// unmounted, not left behind.
	server, err := fuse.NewServer(gofs.NewNodeFS(m.newNode(), opts), mountpoint, &opts.MountOptions)
	if err == nil {
		go server.Serve()
		if err = server.WaitMount(); err != nil {
			_ = server.Unmount()
		}
	}
	if err != nil && m.cache != nil {
		m.cache.close()
	}
	if err != nil {
		if cfg.AllowOther && os.Geteuid() != 0 {
			return nil, fmt.Errorf("mount: %s: %w (allow_other as a user other than root needs user_allow_other in /etc/fuse.conf)", mountpoint, err)
		}
		return nil, fmt.Errorf("mount: %s: %w", mountpoint, err)
	}
	if m.cache != nil {
		go func() {
			server.Wait()
			m.cache.close()
		}()
	}
	return server, nil
}

// openBlockCache opens the block cache cfg asks for, in memory if its
// folder cannot be used.
func openBlockCache(c *fsclient.Client, cfg Config) *blockCache {
	if cfg.CacheDir != "" {
		k, err := openCache(cfg.CacheDir, cfg.CacheSize, c.Blocks())
		if err == nil {
			return k
		}
		if cfg.Logf != nil {
			cfg.Logf("mount: block cache: %v; keeping it in memory", err)
		}
	}
	k, _ := openCache("", cfg.CacheSize, c.Blocks())
	return k
}
