package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"meshfs/fsclient"
	"meshfs/namespace"
)

// modeFlag adds --mode (octal permission bits, default def) to fl.
func modeFlag(fl *flag.FlagSet, def string) *string {
	return fl.String("mode", def, "permission bits of what is made, `OCTAL`")
}

// parseMode parses octal permission bits.
func parseMode(fl *flag.FlagSet, s string) (fs.FileMode, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || v > 0o7777 {
		return 0, usageErr(fl, "mode %q: want octal permission bits like 644 or 0755", s)
	}
	return fs.FileMode(v), nil
}

func runFSMkdir(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("mkdir", "[-p] [options] PATH",
		"Makes the directory PATH. With -p, also the missing directories above\n"+
			"it, and an existing directory is no error. One change of the\n"+
			"namespace, whatever the number of directories made.", std)
	parents := fl.Bool("p", false, "make missing parents; no error if PATH is a directory")
	mode := modeFlag(fl, "0755")
	pos, c, err := fsStart(fl, args, 1, "exactly one PATH", apiURL, nil)
	if err != nil {
		return err
	}
	perm, err := parseMode(fl, *mode)
	if err != nil {
		return err
	}
	if *parents {
		return c.MkdirAll(ctx, pos[0], perm)
	}
	return c.Mkdir(ctx, pos[0], perm)
}

func runFSWrite(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("write", "[-p] [--offset N|--append] [options] PATH < DATA",
		"Writes standard input into the file PATH as one change: replacing its\n"+
			"content (the default), at byte --offset N (past the end, the gap reads\n"+
			"as zeros), or at its end with --append. Only the chunks an offset or\n"+
			"append touches are rewritten; those take at most 256 MiB. A missing\n"+
			"file is made (--mode) unless --no-create; -p makes missing directories.\n"+
			"A symbolic link is followed.", std)
	parents := fl.Bool("p", false, "make missing parent directories")
	offset := fl.Int64("offset", -1, "write at byte `N` instead of replacing the content")
	appendMode := fl.Bool("append", false, "write at the end of the file")
	noCreate := fl.Bool("no-create", false, "fail if the file does not exist")
	exclusive := fl.Bool("exclusive", false, "fail if the file exists")
	mode := modeFlag(fl, "0644")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fl, pos, 1, "exactly one PATH (the data comes on standard input)"); err != nil {
		return err
	}
	opts := fsclient.WriteOptions{Parents: *parents, Append: *appendMode, NoCreate: *noCreate, Exclusive: *exclusive}
	switch {
	case *offset < -1:
		return usageErr(fl, "--offset %d: must not be negative", *offset)
	case *offset >= 0 && *appendMode:
		return usageErr(fl, "give --offset or --append, not both")
	case *exclusive && (*offset >= 0 || *appendMode || *noCreate):
		return usageErr(fl, "--exclusive goes with a whole-file write only")
	}
	if *offset >= 0 {
		opts.At, opts.Offset = true, *offset
	}
	if opts.Perm, err = parseMode(fl, *mode); err != nil {
		return err
	}
	c, err := fsClient(fl, *apiURL, "")
	if err != nil {
		return err
	}
	_, err = c.Write(ctx, pos[0], std.in, opts)
	return err
}

func runFSPut(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("put", "[options] LOCALFILE PATH",
		"Copies the local file LOCALFILE (- for standard input) into the\n"+
			"namespace as the file PATH, replacing its content in one change, and\n"+
			"prints its CID. The bytes stream to the daemon, which stores them in\n"+
			"the mesh before it names them; a progress bar shows on a terminal.", std)
	parents := fl.Bool("p", false, "make missing parent directories")
	mode := modeFlag(fl, "0644")
	quiet := fl.Bool("q", false, "print only the CID")
	progressMode := fl.String("progress", "auto", "progress bar on stderr: auto (when a terminal), always, never")
	pos, c, err := fsStart(fl, args, 2, "LOCALFILE and PATH", apiURL, nil)
	if err != nil {
		return err
	}
	perm, err := parseMode(fl, *mode)
	if err != nil {
		return err
	}
	var (
		in    io.Reader = std.in
		total int64
	)
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if info.IsDir() {
			return fmt.Errorf("%s is a directory: put copies one file", pos[0])
		}
		in, total = f, info.Size()
	}
	bar, err := newProgress(std.errout, *progressMode, "putting", total)
	if err != nil {
		return usageErr(fl, "%v", err)
	}
	cm, err := c.Write(ctx, pos[1], &countingReader{r: in, tell: bar.Set}, fsclient.WriteOptions{Perm: perm, Parents: *parents, Size: total})
	bar.Done()
	if err != nil {
		return err
	}
	if *quiet {
		fmt.Fprintln(std.out, cm.CID)
	} else {
		fmt.Fprintf(std.out, "put %s %s (%s)\n", cm.CID, cm.Path, human(int64(cm.Size)))
	}
	return nil
}

func runFSMv(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("mv", "[options] SRC DST",
		"Moves SRC to DST atomically, replacing a file at DST, or an empty\n"+
			"directory when SRC is a directory.", std)
	pos, c, err := fsStart(fl, args, 2, "SRC and DST", apiURL, nil)
	if err != nil {
		return err
	}
	return c.Rename(ctx, pos[0], pos[1])
}

func runFSRm(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("rm", "[-r] [-f] [options] PATH",
		"Removes the file, symbolic link or empty directory PATH; with -r, a\n"+
			"directory and everything below it, in one change. With -f a missing\n"+
			"PATH is no error.", std)
	recursive := fl.Bool("r", false, "remove a directory and everything below it")
	force := fl.Bool("f", false, "no error if PATH does not exist")
	pos, c, err := fsStart(fl, args, 1, "exactly one PATH", apiURL, nil)
	if err != nil {
		return err
	}
	if *recursive && !*force {
		if _, err := c.Lstat(ctx, pos[0]); err != nil {
			return err
		}
	}
	if *recursive {
		return c.RemoveAll(ctx, pos[0])
	}
	err = c.Remove(ctx, pos[0])
	if *force && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func runFSLn(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("ln", "-s [options] TARGET PATH",
		"Makes PATH a symbolic link to TARGET: a namespace path, absolute or\n"+
			"relative to PATH's directory (it need not exist). The namespace has\n"+
			"no hard links, so -s is required.", std)
	symbolic := fl.Bool("s", false, "make a symbolic link (required)")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if !*symbolic {
		return usageErr(fl, "the namespace has no hard links: give -s")
	}
	if err := wantArgs(fl, pos, 2, "TARGET and PATH"); err != nil {
		return err
	}
	c, err := fsClient(fl, *apiURL, "")
	if err != nil {
		return err
	}
	return c.Symlink(ctx, pos[0], pos[1])
}

func runFSChmod(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("chmod", "[options] MODE PATH",
		"Sets the permission bits of PATH (symbolic links followed) to MODE,\n"+
			"in octal, like 644 or 0755.", std)
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fl, pos, 2, "MODE and PATH"); err != nil {
		return err
	}
	mode, err := parseMode(fl, pos[0])
	if err != nil {
		return err
	}
	c, err := fsClient(fl, *apiURL, "")
	if err != nil {
		return err
	}
	return c.Chmod(ctx, pos[1], mode)
}

func runFSChown(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("chown", "[-h] [options] UID[:GID] PATH",
		"Sets the owner of PATH to the user ID UID and, with :GID, its group to\n"+
			"the group ID GID (:GID alone sets only the group). IDs are numbers:\n"+
			"names mean different users on different machines. Symbolic links are\n"+
			"followed unless -h. The daemon records owners and checks nothing; a\n"+
			"mount lets the kernel check who may read and write what.", std)
	noDeref := fl.Bool("h", false, "change a symbolic link itself")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fl, pos, 2, "UID[:GID] and PATH"); err != nil {
		return err
	}
	uid, gid, err := parseOwner(fl, pos[0])
	if err != nil {
		return err
	}
	c, err := fsClient(fl, *apiURL, "")
	if err != nil {
		return err
	}
	if *noDeref {
		return c.Lchown(ctx, pos[1], uid, gid)
	}
	return c.Chown(ctx, pos[1], uid, gid)
}

// parseOwner parses UID, UID:GID or :GID (numbers); what is not given is
// -1, left as it is.
func parseOwner(fl *flag.FlagSet, s string) (uid, gid int, err error) {
	u, g, hasGroup := strings.Cut(s, ":")
	parse := func(v string) (int, bool) {
		n, err := strconv.ParseUint(v, 10, 32)
		return int(n), err == nil && uint32(n) != namespace.KeepID
	}
	uid, gid = -1, -1
	ok := u != "" || hasGroup
	if u != "" {
		var good bool
		uid, good = parse(u)
		ok = ok && good
	}
	if hasGroup {
		var good bool
		gid, good = parse(g)
		ok = ok && good
	}
	if !ok {
		return 0, 0, usageErr(fl, "owner %q: want UID, UID:GID or :GID, numbers below %d", s, namespace.KeepID)
	}
	return uid, gid, nil
}

func runFSTouch(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("touch", "[--mtime TIME] [options] PATH",
		"Sets the modification time of PATH to now (the daemon's clock) or\n"+
			"--mtime, making an empty file (mode 0644) if nothing is there.", std)
	mtime := fl.String("mtime", "", "the `TIME` to set, RFC 3339 (default now)")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fl, pos, 1, "exactly one PATH"); err != nil {
		return err
	}
	var t time.Time
	if *mtime != "" {
		if t, err = time.Parse(time.RFC3339Nano, *mtime); err != nil {
			return usageErr(fl, "--mtime %q: want RFC 3339, like 2006-01-02T15:04:05Z", *mtime)
		}
	}
	c, err := fsClient(fl, *apiURL, "")
	if err != nil {
		return err
	}
	return c.Touch(ctx, pos[0], t)
}

func runFSTruncate(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("truncate", "[options] SIZE PATH",
		"Sets the size of the file PATH (symbolic links followed) to SIZE bytes\n"+
			"(with K, M or G: KiB, MiB, GiB), cutting it or extending it with\n"+
			"zeros. Only the file's last chunks are rewritten.", std)
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fl, pos, 2, "SIZE and PATH"); err != nil {
		return err
	}
	size, ok := parseSize(pos[0])
	if !ok {
		return usageErr(fl, "size %q: want a number of bytes, like 1000 or 4K or 2M", pos[0])
	}
	c, err := fsClient(fl, *apiURL, "")
	if err != nil {
		return err
	}
	return c.Truncate(ctx, pos[1], size)
}

// parseSize parses a byte count with an optional K, M or G (binary) suffix.
func parseSize(s string) (int64, bool) {
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K', 'k':
			mult, s = 1<<10, s[:n-1]
		case 'M', 'm':
			mult, s = 1<<20, s[:n-1]
		case 'G', 'g':
			mult, s = 1<<30, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, false
	}
	return v * mult, true
}
