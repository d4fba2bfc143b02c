package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

func runAdd(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.errout
	fs := newFlags("add", "[options] FILE|DIR|-",
		"Chunks a file (or, with -r, a directory tree; - for standard input) into\n"+
			"content-addressed blocks and prints its CID, the same CID that\n"+
			"`ipfs add --cid-version=1` gives for the same bytes. By default the\n"+
			"file goes to the daemon at --api, which pushes every block to its R\n"+
			"home peers and succeeds once W of them have it on disk. With\n"+
			"--only-hash nothing is stored; with --repo the blocks go into that\n"+
			"local repo (no daemon), each one fsynced before the command reports\n"+
			"success.", stderr)
	onlyHash := fs.Bool("only-hash", false, "only compute the CID; store nothing")
	quiet := fs.Bool("q", false, "print only the CID, on one line")
	pin := fs.Bool("pin", true, "pin the file in the daemon's namespace, so the garbage collector keeps it")
	recursive := fs.Bool("r", false, "add a directory tree (every entry, hidden ones too)")
	repo := fs.String("repo", os.Getenv("MESHFS_REPO"), repoFlagHelp)
	chunkSize := fs.Int("chunk-size", content.DefaultChunkSize, fmt.Sprintf("leaf size in bytes, %d to %d", content.MinChunkSize, content.MaxChunkSize))
	apiURL := apiFlag(fs)
	progressMode := fs.String("progress", "auto", "progress bar on stderr: auto (when a terminal), always, never")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr(fs, "give exactly one FILE, DIR or -")
	}
	if err := content.CheckChunkSize(*chunkSize); err != nil {
		return usageErr(fs, "%v", err)
	}
	local := *onlyHash || *repo != ""
	var cl *client
	if !local {
		if cl, err = newClient(*apiURL); err != nil {
			return usageErr(fs, "%v", err)
		}
	}

	name := pos[0]
	var (
		in    io.Reader
		total int64
		dir   bool
	)
	if name == "-" {
		in = std.in
	} else {
		info, err := os.Stat(name)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir() && !*recursive:
			return fmt.Errorf("%s is a directory: use -r to add a tree", name)
		case info.IsDir() && !local:
			return fmt.Errorf("%s is a directory: trees are added with --repo DIR for now, not through the daemon", name)
		case info.IsDir():
			dir = true
			total, err = treeSize(name)
			if err != nil {
				return err
			}
		default:
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			in, total = f, info.Size()
		}
	}
	bar, err := newProgress(stderr, *progressMode, "adding", total)
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	if !local {
		var res addResult
		q := url.Values{"chunk-size": {strconv.Itoa(*chunkSize)}}
		if !*pin {
			q.Set("pin", "0")
		}
		err := cl.callJSON(ctx, http.MethodPost, apiAdd, q, &countingReader{r: in, tell: bar.Set}, &res)
		bar.Done()
		if err != nil {
			return err
		}
		if *quiet {
			fmt.Fprintln(stdout, res.CID)
		} else {
			fmt.Fprintf(stdout, "added %s %s\n", res.CID, filepath.Base(name))
		}
		if res.PinError != "" {
			fmt.Fprintf(stderr, "meshfs add: not pinned (%s): the garbage collector may free it once its grace period is over; pin it with meshfs pin add %s\n", res.PinError, res.CID)
		}
		return nil
	}
	// The repo is opened (and created) only once the input is known good.
	var dst content.BlockPutter = content.Discard
	if !*onlyHash {
		store, err := openRepoStore(*repo, true)
		if err != nil {
			return err
		}
		defer store.Close()
		dst = store
	}
	fileOpts := content.ImportOptions{ChunkSize: *chunkSize}

	var root cid.Cid
	if dir {
		abs, err := filepath.Abs(name)
		if err != nil {
			return err
		}
		var added []string
		root, _, err = content.ImportTree(ctx, os.DirFS(abs), ".", dst, content.TreeOptions{
			File:     fileOpts,
			Progress: bar.Set,
			Added: func(rel string, c cid.Cid, _ uint64) {
				added = append(added, fmt.Sprintf("added %s %s", c, filepath.Join(filepath.Base(abs), rel)))
			},
		})
		bar.Done()
		if err != nil {
			return err
		}
		if !*quiet {
			for _, line := range added {
				fmt.Fprintln(stdout, line)
			}
			return nil
		}
	} else {
		fileOpts.Progress = bar.Set
		r, err := content.Import(ctx, in, dst, fileOpts)
		bar.Done()
		if err != nil {
			return err
		}
		root = r.CID
		if !*quiet {
			fmt.Fprintf(stdout, "added %s %s\n", root, filepath.Base(name))
			return nil
		}
	}
	fmt.Fprintln(stdout, root)
	return nil
}

// treeSize adds up the sizes of the regular files under dir.
func treeSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}
