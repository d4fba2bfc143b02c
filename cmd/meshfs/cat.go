package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"meshfs/content"
)

func runCat(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.errout
	fs := newFlags("cat", "[options] CID[/PATH]",
		"Writes the bytes of the file CID (or of the file at PATH below the\n"+
			"directory CID; /ipfs/CID/PATH works too, so a namespace root from\n"+
			"meshfs fs root does) to standard output. By default the\n"+
			"daemon at --api fetches them from the mesh; with --repo they come from\n"+
			"that local repo. Every block is checked against its hash as it is\n"+
			"read; a corrupt block is never written out.", stderr)
	repo := fs.String("repo", os.Getenv("MESHFS_REPO"), repoFlagHelp)
	apiURL := apiFlag(fs)
	offset := fs.Int64("offset", 0, "first byte to write")
	length := fs.Int64("length", -1, "bytes to write (default: to the end)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *offset < 0 || *length < -1 {
		return usageErr(fs, "--offset and --length must not be negative")
	}
	if len(pos) != 1 {
		return usageErr(fs, "give exactly one CID or /ipfs/CID/PATH")
	}
	root, names, err := content.ParseIPFSPath(pos[0])
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	if *repo == "" {
		cl, err := newClient(*apiURL)
		if err != nil {
			return usageErr(fs, "%v", err)
		}
		rc, _, err := cl.cat(ctx, pos[0], *offset, *length)
		if err != nil {
			return err
		}
		defer rc.Close()
		w := bufio.NewWriterSize(stdout, 1<<20)
		if _, err := io.Copy(w, rc); err != nil {
			return err
		}
		return w.Flush()
	}
	store, err := openRepoStore(*repo, false)
	if err != nil {
		return err
	}
	defer store.Close()
	c, err := content.ResolvePath(ctx, store, root, names)
	if err != nil {
		return err
	}
	r, err := content.NewFileReader(ctx, store, c, 0)
	if errors.Is(err, content.ErrNotFile) {
		return fmt.Errorf("%s is not a file (a directory? try meshfs ls): %w", c, err)
	}
	if err != nil {
		return err
	}
	defer r.Close()
	n := *length
	if n < 0 {
		n = r.Size()
	}
	rng, err := r.Range(*offset, n)
	if err != nil {
		return err
	}
	defer rng.Close()
	w := bufio.NewWriterSize(stdout, 1<<20)
	if _, err := io.Copy(w, rng); err != nil {
		return err
	}
	return w.Flush()
}

func runLs(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.errout
	fs := newFlags("ls", "[options] CID",
		"Lists the entries of the UnixFS directory CID (basic or HAMT-sharded),\n"+
			"one a line: CID, cumulative size in bytes, name.", stderr)
	repo := fs.String("repo", os.Getenv("MESHFS_REPO"), repoFlagHelp)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	c, err := oneCID(fs, pos)
	if err != nil {
		return err
	}
	store, err := openRepoStore(*repo, false)
	if err != nil {
		return err
	}
	defer store.Close()
	entries, err := content.ReadDirectory(ctx, store, c)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for _, e := range entries {
		fmt.Fprintf(w, "%s %d %s\n", e.CID, e.Tsize, e.Name)
	}
	return w.Flush()
}
