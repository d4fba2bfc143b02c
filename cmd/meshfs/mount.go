package main

import (
	"context"
	"fmt"
	"time"

	"meshfs/mount"
)

// unmountRetry is how often `meshfs mount` tries again to unmount a busy
// mount after a signal.
const unmountRetry = time.Second

// runMount runs `meshfs mount MOUNTPOINT`: the namespace as a FUSE file
// system, in the foreground, until a signal or an external unmount.
func runMount(ctx context.Context, args []string, std stdio) error {
	def := mount.DefaultConfig()
	fl := newFlags("mount", "[options] MOUNTPOINT",
		"Mounts the namespace of the daemon at --api on the empty directory\n"+
			"MOUNTPOINT (needs /dev/fuse and root), prints a line once it is ready,\n"+
			"and serves it until SIGINT or SIGTERM (then unmounts) or until it is\n"+
			"unmounted (umount MOUNTPOINT).\n\n"+
			"Files have close-to-open semantics: writes stay in this process until\n"+
			"fsync or close commits them as one change, which every strong read on\n"+
			"any peer then sees; an open reads the content committed when it\n"+
			"opened. Attributes and entries are cached for --attr-ttl, so changes\n"+
			"made elsewhere may take that long to show.\n\n"+
			"Files have owners, groups and permission bits that the kernel checks\n"+
			"(default_permissions), as on a local file system: what a process\n"+
			"makes is its user's and group's, and root may chown. Only the user\n"+
			"who mounted may use the mount unless --allow-other (which needs root,\n"+
			"or user_allow_other in /etc/fuse.conf for the fusermount helper).\n\n"+
			"Reads of a file with no uncommitted changes go through a local block\n"+
			"cache: its blocks come from the daemon's gateway (/ipfs/CID), several\n"+
			"at once (--read-ahead), are verified against their CIDs, and are kept\n"+
			"in --cache-dir, at most --cache-size bytes, the least recently used\n"+
			"evicted first; a second read of a file is served from there.\n\n"+
			"A daemon call that takes longer than --timeout fails with EIO.", std.errout)
	apiURL := apiFlag(fl)
	level := consistencyFlag(fl)
	timeout := fl.Duration("timeout", def.Timeout, "bound on every call to the daemon (a read, a commit...)")
	ttl := fl.Duration("attr-ttl", def.AttrTTL, "how long the kernel caches attributes and entries")
	allowOther := fl.Bool("allow-other", false, "let every local user use the mount (the kernel checks their permissions)")
	debug := fl.Bool("debug", false, "log every FUSE request to standard error")
	cacheDir := fl.String("cache-dir", "", "folder of the block cache (default: meshfs/mount-HASH of --api in the user's cache folder; memory if unusable)")
	cacheSize := fl.String("cache-size", "1G", "bound on the block cache, in bytes (K, M, G suffixes); 0 reads through the daemon's cat instead")
	readAhead := fl.Int("read-ahead", def.ReadAhead, "blocks a sequential read fetches at once")
	pos, c, err := fsStart(fl, args, 1, "exactly one MOUNTPOINT", apiURL, level)
	if err != nil {
		return err
	}
	cfg := def
	cfg.Timeout, cfg.AttrTTL, cfg.AllowOther, cfg.Debug = *timeout, *ttl, *allowOther, *debug
	size, ok := parseSize(*cacheSize)
	if !ok {
		return usageErr(fl, "--cache-size %q: want a number of bytes, like 1000 or 512M or 2G", *cacheSize)
	}
	cfg.CacheSize, cfg.CacheDir, cfg.ReadAhead = size, *cacheDir, *readAhead
	if cfg.CacheDir == "" {
		cfg.CacheDir = mount.DefaultCacheDir(*apiURL)
	}
	cfg.Logf = func(format string, args ...any) {
		fmt.Fprintf(std.errout, "meshfs "+format+"\n", args...)
	}
	if err := cfg.Validate(); err != nil {
		return usageErr(fl, "%v", err)
	}
	server, err := mount.Mount(pos[0], c, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "meshfs mounted at %s (the namespace of %s); Ctrl-C unmounts\n", pos[0], *apiURL)
	unmounted := make(chan struct{})
	go func() {
		server.Wait()
		close(unmounted)
	}()
	select {
	case <-unmounted:
		return nil
	case <-ctx.Done():
	}
	retry := time.NewTicker(unmountRetry)
	defer retry.Stop()
	for {
		err := server.Unmount()
		if err == nil {
			<-unmounted
			return nil
		}
		fmt.Fprintf(std.errout, "meshfs mount: unmount %s: %v; trying again (close what is open there; another signal quits)\n", pos[0], err)
		select {
		case <-unmounted:
			return nil
		case <-retry.C:
		}
	}
}
