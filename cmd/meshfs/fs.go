package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/fsclient"
	"meshfs/member"
)

// fsCommands are the subcommands of `meshfs fs`, the namespace's command
// line, each a thin layer over package fsclient.
var fsCommands = []command{
	{"ls", "list a directory (-l: mode, owner, size, mtime)", runFSLs},
	{"stat", "describe a path (--json: the API's fields)", runFSStat},
	{"cat", "write a file's bytes to stdout", runFSCat},
	{"mkdir", "make a directory (-p: and its parents)", runFSMkdir},
	{"write", "write stdin into a file (whole, --offset N or --append)", runFSWrite},
	{"put", "copy a local file into the namespace", runFSPut},
	{"mv", "move or rename a path", runFSMv},
	{"rm", "remove a file, link or empty directory (-r: a tree)", runFSRm},
	{"ln", "make a symbolic link (ln -s TARGET PATH)", runFSLn},
	{"chmod", "set a path's permission bits (octal)", runFSChmod},
	{"chown", "set a path's owner and group (UID[:GID], numbers)", runFSChown},
	{"touch", "set a path's mtime, making an empty file if none", runFSTouch},
	{"truncate", "cut or zero-extend a file to SIZE", runFSTruncate},
	{"root", "the tree's root CID, term, index and writer", runFSRoot},
	{"writer", "the namespace's writer, term and voters", runFSWriter},
	{"allow", "let a peer change the namespace (* for any)", runFSAllow},
	{"deny", "take back what allow gave a peer", runFSDeny},
	{"voters", "add or remove a voter (voters add|rm PEER-ID)", runFSVoters},
}

// runFS runs `meshfs fs SUBCOMMAND ...`.
func runFS(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		fsUsage(std.errout)
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fsUsage(std.errout)
		return flag.ErrHelp
	}
	i := slices.IndexFunc(fsCommands, func(c command) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(std.errout, "meshfs fs: unknown command %q\n\n", args[0])
		fsUsage(std.errout)
		return errUsage
	}
	return fsCommands[i].run(ctx, args[1:], std)
}

func fsUsage(w io.Writer) {
	fmt.Fprintf(w, "meshfs fs: the namespace, a shared file tree the daemons replicate with Raft\n"+
		"(served by daemons started with --voters).\n\n"+
		"Usage: meshfs fs COMMAND [options] [arguments]\n\nCommands:\n")
	for _, c := range fsCommands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nPaths are absolute in the namespace (/a/b; a/b means the same). Reads are\n"+
		"strong unless --consistency says sequential or eventual. Run\n"+
		"'meshfs fs COMMAND --help' for a command's options.\n")
}

// fsFlags returns the flag set of `meshfs fs name` with --api.
func fsFlags(name, synopsis, description string, std stdio) (*flag.FlagSet, *string) {
	fl := newFlags("fs "+name, synopsis, description, std.errout)
	return fl, apiFlag(fl)
}

// consistencyFlag adds --consistency to fl.
func consistencyFlag(fl *flag.FlagSet) *string {
	return fl.String("consistency", "strong", "read `LEVEL`: strong (sees every change committed before it), sequential (a voter's applied state) or eventual (the newest root record in the DHT)")
}

// fsClient returns a client of the daemon at apiURL reading at level ("":
// strong), showing the token in $MESHFS_API_TOKEN as the other commands
// do, or a usage error.
func fsClient(fl *flag.FlagSet, apiURL, level string) (*fsclient.Client, error) {
	l, err := member.ParseLevel(level)
	if err != nil {
		return nil, usageErr(fl, "--%v", err)
	}
	opts := []fsclient.Option{fsclient.WithConsistency(l)}
	if t := os.Getenv(tokenEnv); t != "" {
		opts = append(opts, fsclient.WithRequestHook(func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+t)
			return nil
		}))
	}
	c, err := fsclient.New(apiURL, opts...)
	if err != nil {
		return nil, usageErr(fl, "--api %q: want a URL like %s", apiURL, defaultAPI)
	}
	return c, nil
}

// fsStart parses a fs command's flags, checks that n arguments (as names
// says) follow, and makes its client of the daemon at *apiURL reading at
// *level (level nil: strong). The flags are read once parsed.
func fsStart(fl *flag.FlagSet, args []string, n int, names string, apiURL, level *string) ([]string, *fsclient.Client, error) {
	pos, err := parseFlags(fl, args)
	if err != nil {
		return nil, nil, err
	}
	if err := wantArgs(fl, pos, n, names); err != nil {
		return nil, nil, err
	}
	l := ""
	if level != nil {
		l = *level
	}
	c, err := fsClient(fl, *apiURL, l)
	if err != nil {
		return nil, nil, err
	}
	return pos, c, nil
}

// wantArgs checks that pos holds exactly the n arguments names says.
func wantArgs(fl *flag.FlagSet, pos []string, n int, names string) error {
	if len(pos) != n {
		return usageErr(fl, "give %s", names)
	}
	return nil
}

// checkPeerID refuses what is not a peer ID (or "*" where any peer is
// meant): the daemon would take it as one.
func checkPeerID(fl *flag.FlagSet, id string, star bool) error {
	if star && id == "*" {
		return nil
	}
	if _, err := peer.Decode(id); err != nil {
		return usageErr(fl, "%q is not a peer ID: %v", id, err)
	}
	return nil
}
