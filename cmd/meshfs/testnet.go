package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"meshfs/testnet"
)

func runTestnet(ctx context.Context, args []string, std stdio) error {
	fl := newFlags("testnet", "[--peers N] --dir DIR [--bin PATH] [--fresh] [-- DAEMON-FLAGS...]",
		"Starts a local mesh of N meshfs daemons on 127.0.0.1 with free ports,\n"+
			"each with its own repo and log (DIR/peer-NN, DIR/peer-NN/daemon.log),\n"+
			"bootstrapped to the others, waits until every peer knows every other,\n"+
			"and writes DIR/testnet.json (each peer's id, api, addrs, repo, pid).\n"+
			"Then it prints the peers' API URLs and stays in the foreground until\n"+
			"SIGINT (Ctrl-C) or SIGTERM, which stop every daemon.\n\n"+
			"The first 3 peers (--voters) are the voters of a namespace that every\n"+
			"daemon serves (meshfs fs ...); the testnet waits for them to elect a\n"+
			"writer. Only voters may change it unless --open.\n\n"+
			"Repos already in DIR are reused, peer IDs and blocks included; --fresh\n"+
			"removes DIR first. Flags after -- go to every daemon, for example\n"+
			"  meshfs testnet --dir /tmp/mesh -- --repair-interval 2s --replication 2\n"+
			"Daemons run with --test-control (the partition endpoints): the testnet\n"+
			"is for trying and testing meshfs, not for keeping data.", std.errout)
	peers := fl.Int("peers", 5, "`N`, how many daemons (at least 1)")
	dir := fl.String("dir", "", "the testnet's `DIR` (required)")
	bin := fl.String("bin", "", "the meshfs binary `PATH` the daemons run (default: this one)")
	fresh := fl.Bool("fresh", false, "remove DIR before starting (refused while a daemon of it runs)")
	voters := fl.Int("voters", 0, "how many of the first peers are the namespace's voters (default min(3, N); -1: no namespace)")
	open := fl.Bool("open", false, "let any peer change the namespace (else only its voters may)")
	ready := fl.Duration("ready", testnet.DefaultReady, "how long to wait for the daemons and the mesh")
	flagArgs, daemonArgs := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		flagArgs, daemonArgs = args[:i], args[i+1:]
	}
	pos, err := parseFlags(fl, flagArgs)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return usageErr(fl, "unexpected argument %q (daemon flags go after --)", pos[0])
	case *peers < 1:
		return usageErr(fl, "--peers %d: need at least 1", *peers)
	case *dir == "":
		return usageErr(fl, "give --dir DIR")
	case *ready <= 0:
		return usageErr(fl, "--ready %v: need a positive duration", *ready)
	}
	binary := *bin
	if binary == "" {
		if binary, err = os.Executable(); err != nil {
			return fmt.Errorf("cannot find this binary (give --bin): %w", err)
		}
	}
	cfg := testnet.Config{
		Binary:     binary,
		Dir:        *dir,
		Peers:      *peers,
		DaemonArgs: daemonArgs,
		Ready:      *ready,
		Voters:     *voters,
		Open:       *open,
		OnExit: func(p testnet.Peer) {
			fmt.Fprintf(std.errout, "meshfs testnet: peer %d (pid %d) ended by itself with %s; see %s\n", p.Index, p.PID, p.Exit, p.Log)
		},
	}
	if err := cfg.Validate(); err != nil {
		return usageErr(fl, "%s", strings.TrimPrefix(err.Error(), "testnet: "))
	}
	if *fresh {
		_, statErr := os.Stat(*dir)
		if err := testnet.Remove(*dir); err != nil {
			return err
		}
		if !errors.Is(statErr, fs.ErrNotExist) {
			fmt.Fprintf(std.out, "removed the previous testnet in %s (--fresh)\n", *dir)
		}
	}

	fmt.Fprintf(std.out, "starting %d meshfs daemons in %s ...\n", *peers, *dir)
	begin := time.Now()
	net, err := testnet.Start(ctx, cfg)
	if err != nil {
		return err
	}
	printTestnet(std, net, *dir, displayPath(binary), time.Since(begin))

	<-ctx.Done()
	fmt.Fprintf(std.errout, "meshfs testnet: stopping %d daemons\n", len(net.Peers()))
	if err := net.Close(); err != nil {
		return err
	}
	fmt.Fprintf(std.errout, "meshfs testnet: stopped\n")
	return nil
}

// printTestnet shows the running mesh and how to use it.
func printTestnet(std stdio, net *testnet.Net, dir, bin string, took time.Duration) {
	peers := net.Peers()
	fmt.Fprintf(std.out, "%d daemons up and meshed in %v; described in %s\n\n",
		len(peers), took.Round(10*time.Millisecond), filepath.Join(dir, "testnet.json"))
	tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  peer\tid\tapi\n")
	for _, p := range peers {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", p.Index, p.ID, p.API)
	}
	tw.Flush()
	first, other := peers[0].API, peers[len(peers)-1].API
	fmt.Fprintf(std.out, "\nadd a file through peer 0 and read it through peer %d:\n", len(peers)-1)
	fmt.Fprintf(std.out, "  %s add --api %s FILE\n", bin, first)
	fmt.Fprintf(std.out, "  %s cat --api %s CID > FILE.copy\n\n", bin, other)
	if voters := net.Voters(); len(voters) > 0 {
		fmt.Fprintf(std.out, "the namespace (voters: peers 0-%d; the writer is elected among them):\n", len(voters)-1)
		fmt.Fprintf(std.out, "  %s fs write -p --api %s /docs/hello.txt < FILE\n", bin, other)
		fmt.Fprintf(std.out, "  %s fs ls -l --api %s /docs\n", bin, first)
		fmt.Fprintf(std.out, "  %s fs cat --consistency eventual --api %s /docs/hello.txt\n", bin, first)
		fmt.Fprintf(std.out, "  %s fs writer --api %s\n\n", bin, first)
	}
	tw = tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "gateway (peer 0)\t%s/ipfs/\n", first)
	fmt.Fprintf(tw, "metrics (peer 0)\t%s/metrics\n", first)
	fmt.Fprintf(tw, "status (peer 0)\t%s status --api %s\n", bin, first)
	fmt.Fprintf(tw, "logs\t%s\n", filepath.Join(dir, "peer-NN", "daemon.log"))
	tw.Flush()
	fmt.Fprintf(std.out, "\nCtrl-C stops every daemon.\n")
}

// displayPath returns path relative to the working folder when it lies
// inside it (bin/meshfs), else as it is.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	if !strings.Contains(rel, string(filepath.Separator)) {
		return "." + string(filepath.Separator) + rel
	}
	return rel
}
