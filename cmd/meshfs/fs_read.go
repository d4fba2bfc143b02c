package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"text/tabwriter"
	"time"

	"meshfs/fsclient"
	"meshfs/namespace"
)

func runFSCat(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("cat", "[options] PATH",
		"Writes the bytes of the file PATH (symbolic links followed) to standard\n"+
			"output: the version the daemon finds at the start, whatever is written\n"+
			"meanwhile, verified block by block.", std)
	level := consistencyFlag(fl)
	pos, c, err := fsStart(fl, args, 1, "exactly one PATH", apiURL, level)
	if err != nil {
		return err
	}
	f, err := c.Open(ctx, pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(std.out, 1<<20)
	if _, err := io.Copy(w, f); err != nil {
		return err
	}
	return w.Flush()
}

func runFSLs(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("ls", "[options] [PATH]",
		"Lists the entries of the directory PATH (default /), sorted by name, one\n"+
			"a line; for a file, the file itself. With -l, like ls -ln: mode, owner\n"+
			"and group (numbers), size (a directory's is its number of entries),\n"+
			"modification time, name, and a symbolic link's target.", std)
	long := fl.Bool("l", false, "long listing: mode, owner, group, size, mtime, name")
	level := consistencyFlag(fl)
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageErr(fl, "give at most one PATH")
	}
	p := "/"
	if len(pos) == 1 {
		p = pos[0]
	}
	c, err := fsClient(fl, *apiURL, *level)
	if err != nil {
		return err
	}
	var infos []fs.FileInfo
	entries, err := c.ReadDir(ctx, p)
	switch {
	case errors.Is(err, namespace.ErrNotDir):
		info, lerr := c.Lstat(ctx, p)
		if lerr != nil {
			return lerr
		}
		infos = append(infos, info)
	case err != nil:
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return err
		}
		infos = append(infos, info)
	}
	w := bufio.NewWriter(std.out)
	if *long {
		writeLong(w, infos, time.Now())
	} else {
		for _, info := range infos {
			fmt.Fprintln(w, info.Name())
		}
	}
	return w.Flush()
}

// writeLong lists infos like ls -ln, dating them relative to now.
func writeLong(w io.Writer, infos []fs.FileInfo, now time.Time) {
	sys := make([]fsclient.Info, len(infos))
	var uidW, gidW, sizeW int
	for k, info := range infos {
		if i, ok := info.Sys().(*fsclient.Info); ok {
			sys[k] = *i
		}
		uidW = max(uidW, len(strconv.FormatUint(uint64(sys[k].Uid), 10)))
		gidW = max(gidW, len(strconv.FormatUint(uint64(sys[k].Gid), 10)))
		sizeW = max(sizeW, len(strconv.FormatInt(info.Size(), 10)))
	}
	for k, info := range infos {
		name := info.Name()
		if sys[k].Kind == "symlink" {
			name += " -> " + sys[k].Target
		}
		fmt.Fprintf(w, "%s %*d %*d %*d %s %s\n", modeString(info.Mode()), uidW, sys[k].Uid, gidW, sys[k].Gid,
			sizeW, info.Size(), lsTime(info.ModTime(), now), name)
	}
}

// modeString writes a mode as ls does ("drwxr-xr-x", "lrwxrwxrwx").
func modeString(m fs.FileMode) string {
	s := m.String()
	if m&fs.ModeSymlink != 0 {
		s = "l" + s[1:]
	}
	return s
}

// lsTime formats t as ls -l does: the time of day within six months of
// now, the year otherwise.
func lsTime(t, now time.Time) string {
	t = t.Local()
	if d := now.Sub(t); d > 182*24*time.Hour || d < -182*24*time.Hour {
		return t.Format("Jan _2  2006")
	}
	return t.Format("Jan _2 15:04")
}

func runFSStat(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("stat", "[options] PATH",
		"Describes PATH itself (a symbolic link is not followed): kind, size,\n"+
			"permission bits, owner and group, modification time, content CID, inode\n"+
			"number, link target. --json prints the API's object: path, name, kind,\n"+
			"mode (octal), uid, gid, size, mtime (RFC 3339), mtime_ns, cid, ino,\n"+
			"target.", std)
	asJSON := fl.Bool("json", false, "print the API's JSON object")
	level := consistencyFlag(fl)
	pos, c, err := fsStart(fl, args, 1, "exactly one PATH", apiURL, level)
	if err != nil {
		return err
	}
	info, err := c.Lstat(ctx, pos[0])
	if err != nil {
		return err
	}
	i := info.Sys().(*fsclient.Info)
	if *asJSON {
		return printJSON(std.out, i)
	}
	tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "path\t%s\n", i.Path)
	fmt.Fprintf(tw, "kind\t%s\n", i.Kind)
	if i.Kind == "dir" {
		fmt.Fprintf(tw, "entries\t%d\n", i.Size)
	} else {
		fmt.Fprintf(tw, "size\t%d (%s)\n", i.Size, human(int64(i.Size)))
	}
	fmt.Fprintf(tw, "mode\t%s (%s)\n", i.Mode, modeString(info.Mode()))
	fmt.Fprintf(tw, "owner\t%d:%d\n", i.Uid, i.Gid)
	fmt.Fprintf(tw, "mtime\t%s\n", info.ModTime().Local().Format(time.RFC3339Nano))
	if i.CID != "" {
		fmt.Fprintf(tw, "cid\t%s\n", i.CID)
	}
	if i.Target != "" {
		fmt.Fprintf(tw, "target\t%s\n", i.Target)
	}
	if i.Ino != 0 {
		fmt.Fprintf(tw, "ino\t%d\n", i.Ino)
	}
	return tw.Flush()
}

func runFSRoot(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("root", "[options]",
		"Renders the tree into the mesh and prints its root: a UnixFS directory\n"+
			"CID any IPFS tool can walk (meshfs cat, the gateway's /ipfs/CID/...),\n"+
			"and the Raft term and index of the state it shows, and the writer.\n"+
			"--json prints {\"cid\", \"term\", \"index\", \"writer\"}.", std)
	asJSON := fl.Bool("json", false, "print the API's JSON object")
	level := consistencyFlag(fl)
	_, c, err := fsStart(fl, args, 0, "no arguments", apiURL, level)
	if err != nil {
		return err
	}
	r, err := c.Root(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(std.out, r)
	}
	tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "cid\t%s\nterm\t%d\nindex\t%d\nwriter\t%s\n", r.CID, r.Term, r.Index, r.Writer)
	return tw.Flush()
}

func runFSWriter(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("writer", "[options]",
		"Prints what the daemon knows of the namespace: its writer (the Raft\n"+
			"leader every change goes through) and term, its voters, and the\n"+
			"daemon's own part (voter or not, applied and published index). It\n"+
			"asks no other peer. --json prints the API's object.", std)
	asJSON := fl.Bool("json", false, "print the API's JSON object")
	_, c, err := fsStart(fl, args, 0, "no arguments", apiURL, nil)
	if err != nil {
		return err
	}
	v, err := c.Writer(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(std.out, v)
	}
	writer := v.Writer
	if writer == "" {
		writer = "(none known)"
	}
	role := "not a voter"
	if v.Voter {
		role = "voter"
	}
	tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "namespace\t%s\nwriter\t%s\nterm\t%d\n", v.Namespace, writer, v.Term)
	for i, id := range v.Voters {
		label := ""
		if i == 0 {
			label = "voters"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, id)
	}
	fmt.Fprintf(tw, "self\t%s (%s)\napplied\t%d\npublished\t%d\n", v.Self, role, v.Applied, v.Published)
	return tw.Flush()
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
