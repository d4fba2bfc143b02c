package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"meshfs/gc"
	"meshfs/member"
	meshpeer "meshfs/peer"
	"meshfs/peer/nslink"
)

// listFlag is a flag that takes a comma-separated list and may be repeated.
type listFlag struct {
	set  bool
	vals []string
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

func (l *listFlag) Set(s string) error {
	if !l.set {
		l.vals, l.set = nil, true
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.vals = append(l.vals, v)
		}
	}
	return nil
}

func runDaemon(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("daemon", "[options]",
		"Runs a meshfs peer: joins the mesh, stores the blocks it is home to,\n"+
			"repairs replication, and serves the HTTP API (used by the other\n"+
			"commands), the IPFS gateway at /ipfs/ and Prometheus metrics at\n"+
			"/metrics. The repo (identity, config.toml, blocks) is created on first\n"+
			"start; flags override config.toml for this run. Stops cleanly on\n"+
			"SIGINT or SIGTERM.", std.errout)
	repo := fs.String("repo", os.Getenv("MESHFS_REPO"), repoFlagHelp)
	var listen, bootstrap listFlag
	fs.Var(&listen, "listen", "multiaddrs to listen on, comma-separated (default from config.toml)")
	wsCert := fs.String("ws-cert", "", "certificate chain (PEM `FILE`) for the secure WebSocket (/tls/ws) listen addresses (default from config.toml)")
	wsKey := fs.String("ws-key", "", "the certificate's private key (PEM `FILE`) (default from config.toml)")
	fs.Var(&bootstrap, "bootstrap", "multiaddrs of peers to join, comma-separated, each ending in /p2p/ID")
	api := fs.String("api", "", "HTTP API `host:port` (default from config.toml; port 0 picks one)")
	replication := fs.Int("replication", 0, "R, copies of each block (default from config.toml)")
	quorum := fs.Int("write-quorum", 0, "W, acknowledgements an add waits for (default from config.toml)")
	repairEvery := fs.Duration("repair-interval", 0, "time between repair passes (default from config.toml)")
	clientMode := fs.Bool("client", false, "join as a client: read and write through the mesh, never home to blocks")
	var voters listFlag
	fs.Var(&voters, "voters", "the namespace's first voters, peer IDs comma-separated (default from config.toml)")
	nsName := fs.String("namespace", "", "the namespace's `NAME` (default from config.toml)")
	gcOn := fs.String("gc", "", "`true|false`: collect garbage (default from config.toml, true)")
	gcRoots := fs.Int("gc-roots", 0, "K, the namespace's newest roots kept live (default from config.toml)")
	gcGrace := fs.Duration("gc-grace", 0, "how long a block stays dead before it is deleted (default from config.toml)")
	gcLease := fs.Duration("gc-lease", 0, "how long a pushed block is protected before its write commits (default from config.toml)")
	gcEvery := fs.Duration("gc-interval", 0, "time between collection passes (default from config.toml)")
	fsTimeout := fs.Duration("fs-timeout", 0, "how long a namespace change or strong read waits for a writer and its quorum (default from config.toml)")
	webDir := fs.String("web", "", "serve the browser node (meshfs.wasm.gz, wasm_exec.js) from `DIR` instead of the one built in")
	testControl := fs.Bool("test-control", false, "serve /debug/partition, /debug/heal and /debug/root-record (tests only: lets API callers cut the mesh and forge records)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr(fs, "unexpected argument %q", pos[0])
	}
	if *repo == "" {
		return usageErr(fs, "give --repo DIR or set MESHFS_REPO")
	}
	dc, err := loadOrInitRepo(*repo)
	if err != nil {
		return err
	}
	if listen.set {
		dc.Listen = listen.vals
	}
	if *wsCert != "" {
		dc.WSCert = *wsCert
	}
	if *wsKey != "" {
		dc.WSKey = *wsKey
	}
	if bootstrap.set {
		dc.Bootstrap = bootstrap.vals
	}
	if *api != "" {
		dc.API = *api
	}
	if *replication != 0 {
		dc.Replication = *replication
	}
	if *quorum != 0 {
		dc.WriteQuorum = *quorum
	}
	if *repairEvery != 0 {
		dc.RepairInterval.Duration = *repairEvery
	}
	if *clientMode {
		dc.Client = true
	}
	if voters.set {
		dc.Voters = voters.vals
	}
	if *gcOn != "" {
		on, err := strconv.ParseBool(*gcOn)
		if err != nil {
			return usageErr(fs, "--gc %q: want true or false", *gcOn)
		}
		dc.GC = &on
	}
	if *gcRoots != 0 {
		dc.GCRoots = *gcRoots
	}
	if *gcGrace != 0 {
		dc.GCGrace.Duration = *gcGrace
	}
	if *gcLease != 0 {
		dc.GCLease.Duration = *gcLease
	}
	if *gcEvery != 0 {
		dc.GCInterval.Duration = *gcEvery
	}
	if *fsTimeout < 0 {
		return usageErr(fs, "--fs-timeout %v: want a positive duration", *fsTimeout)
	}
	if *fsTimeout != 0 {
		dc.FSTimeout.Duration = *fsTimeout
	}
	if *webDir != "" {
		dc.WebDir = *webDir
	}
	if *nsName != "" {
		dc.Namespace = *nsName
	}
	if dc.Namespace == "" {
		dc.Namespace = defaultNamespace
	}
	cfg, err := peerConfig(dc)
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	if dc.WSCert != "" {
		if cfg.WebSocketTLS, err = loadWebSocketTLS(dc.WSCert, dc.WSKey, std.errout); err != nil {
			return err
		}
	}
	tuneGC(cfg.CacheBytes)
	return serveDaemon(ctx, *repo, dc, cfg, *testControl, std)
}

// gcConfig is the collection's parameters from the repo's config.
func gcConfig(dc daemonConfig) gc.Config {
	g := gc.DefaultConfig()
	if dc.GCRoots != 0 {
		g.Roots = dc.GCRoots
	}
	if dc.GCGrace.Duration != 0 {
		g.Grace = dc.GCGrace.Duration
	}
	if dc.GCLease.Duration != 0 {
		g.LeaseTTL = dc.GCLease.Duration
	}
	return g
}

// peerConfig turns the repo's config into the node's.
func peerConfig(dc daemonConfig) (meshpeer.Config, error) {
	cfg := meshpeer.DefaultConfig()
	if len(dc.Listen) > 0 {
		cfg.ListenAddrs = dc.Listen
	}
	if (dc.WSCert == "") != (dc.WSKey == "") {
		return cfg, errors.New("give both ws_cert and ws_key (--ws-cert and --ws-key), or neither")
	}
	if dc.WSCert == "" {
		for _, s := range cfg.ListenAddrs {
			if isSecureWebSocket(s) {
				return cfg, fmt.Errorf("listen address %s is secure WebSocket: give its certificate with ws_cert and ws_key in config.toml, or --ws-cert and --ws-key", s)
			}
		}
	}
	for _, s := range dc.Bootstrap {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return cfg, fmt.Errorf("bootstrap %q: %w", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return cfg, fmt.Errorf("bootstrap %q: %w", s, err)
		}
		cfg.Bootstrap = append(cfg.Bootstrap, *ai)
	}
	if dc.Replication != 0 {
		cfg.Replication = dc.Replication
	}
	if dc.WriteQuorum != 0 {
		cfg.WriteQuorum = dc.WriteQuorum
	}
	if dc.RepairInterval.Duration != 0 {
		cfg.RepairInterval = dc.RepairInterval.Duration
	}
	if dc.CacheBytes != 0 {
		cfg.CacheBytes = dc.CacheBytes
	}
	cfg.Client = dc.Client
	if (dc.GC == nil || *dc.GC) && len(dc.Voters) > 0 && !dc.Client {
		g := gcConfig(dc)
		cfg.GC, cfg.GCNamespace, cfg.GCInterval = &g, dc.Namespace, time.Minute
		if dc.GCInterval.Duration != 0 {
			cfg.GCInterval = dc.GCInterval.Duration
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// isSecureWebSocket reports whether the multiaddr s is a secure WebSocket
// one (/tls/ws, /tls/sni/NAME/ws or /wss).
func isSecureWebSocket(s string) bool {
	a, err := ma.NewMultiaddr(s)
	return err == nil && meshpeer.IsSecureWebSocket(a) // a bad one: the node reports it
}

// defaultNamespace names the namespace when config.toml does not.
const defaultNamespace = "meshfs"

// serveDaemon runs the node, its namespace member and its HTTP API until
// ctx ends.
func serveDaemon(ctx context.Context, repo string, dc daemonConfig, cfg meshpeer.Config, testControl bool, std stdio) error {
	apiAddr := dc.API
	if apiAddr == "" {
		apiAddr = "127.0.0.1:5101"
	}
	key, err := meshpeer.LoadOrCreateIdentity(filepath.Join(repo, identityFile))
	if err != nil {
		return err
	}
	store, err := openRepoStore(repo, true)
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ref := &nslink.Ref{}
	cfg.RootVoters = ref.Voters
	node, err := meshpeer.New(ctx, cfg, key, store, reg)
	if err != nil {
		return err
	}
	defer node.Close()
	var ns *member.Member
	if len(dc.Voters) > 0 {
		if ns, err = startMember(repo, dc.Namespace, dc.Voters, node, ref, std.errout); err != nil {
			return fmt.Errorf("namespace: %w", err)
		}
		defer ns.Close()
		registerMemberMetrics(reg, ns)
		if cfg.GC != nil {
			registerGCMetrics(reg, node)
		}
	}

	ln, err := net.Listen("tcp", apiAddr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	apiURL := "http://" + ln.Addr().String()
	handler := newAPI(node, ns, ref, reg, testControl, dc.FSTimeout.Duration, browserPage(node, ns, dc))
	if !isLoopback(ln.Addr()) {
		token, err := loadOrCreateToken(repo)
		if err != nil {
			ln.Close()
			return fmt.Errorf("api token: %w", err)
		}
		handler = requireToken(token, handler)
		fmt.Fprintf(std.errout, "meshfs daemon: the API listens beyond loopback: callers need the token in %s\n", filepath.Join(repo, apiTokenFile))
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	info := daemonInfo{ID: node.ID().String(), API: apiURL, Repo: repo, PID: os.Getpid()}
	for _, a := range node.Addrs() {
		info.Addrs = append(info.Addrs, a.String())
	}
	if err := writeDaemonInfo(repo, info); err != nil {
		srv.Close()
		return err
	}
	defer os.Remove(filepath.Join(repo, daemonFile))
	fmt.Fprintf(std.out, "meshfs daemon ready\npeer   %s\napi    %s\n", info.ID, apiURL)
	for _, a := range info.Addrs {
		fmt.Fprintf(std.out, "listen %s\n", a)
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("api: %w", err)
	}
	fmt.Fprintln(std.errout, "meshfs daemon: stopping")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// tuneGC trades memory for CPU, unless GOGC or GOMEMLIMIT say otherwise: a
// daemon allocates a buffer for every request and block, and with Go's
// default the collector took a quarter of a busy writer's CPU. The heap may
// grow to 5 times what is live, but no further than the block cache twice
// over plus 512 MiB.
func tuneGC(cacheBytes int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2*cacheBytes + 512<<20)
	}
}
