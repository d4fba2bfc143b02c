// Command meshfs is the one binary of meshfs: the daemon (a peer of the
// mesh with its HTTP API), the command line that talks to it or to a local
// repo, and the local testnet launcher.
//
// Run `meshfs help` for the commands, `meshfs COMMAND --help` for one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, std stdio) error
}

// stdio is a command's standard streams.
type stdio struct {
	in          io.Reader
	out, errout io.Writer
}

var commands = []command{
	{"daemon", "run a peer of the mesh and its HTTP API", runDaemon},
	{"init", "create a daemon's repo and print its peer ID", runInit},
	{"add", "store a file in the mesh (or a local repo) and print its CID", runAdd},
	{"cat", "write a file's bytes to stdout, verified", runCat},
	{"get", "fetch a file from the mesh into a local file", runGet},
	{"ls", "list a directory's entries (local repo)", runLs},
	{"fs", "the namespace, a shared file tree: ls, cat, write, mkdir, mv, rm... (meshfs fs help)", runFS},
	{"mount", "mount the namespace as a FUSE file system (Linux)", runMount},
	{"block", "block where CID: the peers that hold a block", runBlock},
	{"status", "the daemon's peer, connections, storage, repair and collection", runStatus},
	{"pin", "pin add|rm|ls: keep DAGs from the garbage collector", runPin},
	{"gc", "collect garbage on the daemon now (--dry-run: say what would go and why)", runGC},
	{"peers", "the daemon's connected peers", runPeers},
	{"testnet", "start a local mesh of N daemons on 127.0.0.1", runTestnet},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, the next one ends the process at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr})
	if ctx.Err() != nil && code == 1 {
		code = 130 // interrupted, as shells report it
	}
	os.Exit(code)
}

// run executes the command line args and returns the exit code: 0 ok, 1 the
// command failed, 2 bad usage.
func run(ctx context.Context, args []string, std stdio) int {
	stderr := std.errout
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], std)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "meshfs %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "meshfs: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "meshfs: a peer-to-peer storage mesh with IPFS-compatible content.\n\nUsage: meshfs COMMAND [options] [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'meshfs COMMAND --help' for a command's options.\n")
}

// errUsage marks an error already reported with the command's usage.
var errUsage = errors.New("usage")

// newFlags returns a flag set that prints the command's synopsis and
// description before its options.
func newFlags(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: meshfs %s %s\n\n%s\n\nOptions:\n", name, synopsis, description)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, allowing options after the positional
// arguments; everything after "--" is positional. A parse error becomes
// errUsage.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(positional, rest...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// oneCID returns the one positional argument as a CID, or a usage error.
func oneCID(fs *flag.FlagSet, pos []string) (cid.Cid, error) {
	if len(pos) != 1 {
		return cid.Undef, usageErr(fs, "give exactly one CID")
	}
	c, err := content.ParseCID(pos[0])
	if err != nil {
		return cid.Undef, usageErr(fs, "%v", err)
	}
	return c, nil
}

// usageErr prints msg and the command's usage, and returns errUsage.
func usageErr(fs *flag.FlagSet, format string, a ...any) error {
	fmt.Fprintf(fs.Output(), "meshfs %s: %s\n\n", fs.Name(), fmt.Sprintf(format, a...))
	fs.Usage()
	return errUsage
}
