package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	"meshfs/internal/atomicfile"
)

// The files of a daemon's repo, beside blocks/.
const (
	configFile   = "config.toml"
	identityFile = "identity.key"
	daemonFile   = "daemon.json" // written when the daemon is ready, removed at stop
)

// daemonConfig is the repo's config.toml. Command-line flags override it for
// one run.
type daemonConfig struct {
	Listen         []string `toml:"listen"`
	WSCert         string   `toml:"ws_cert"` // absolute, or relative to the repo
	WSKey          string   `toml:"ws_key"`
	API            string   `toml:"api"`
	Bootstrap      []string `toml:"bootstrap"`
	Replication    int      `toml:"replication"`
	WriteQuorum    int      `toml:"write_quorum"`
	RepairInterval duration `toml:"repair_interval"`
	CacheBytes     int64    `toml:"cache_bytes"`
	Client         bool     `toml:"client"`
	Namespace      string   `toml:"namespace"`
	Voters         []string `toml:"voters"`
	WebDir         string   `toml:"web_dir"`
	GC             *bool    `toml:"gc"`
	GCRoots        int      `toml:"gc_roots"`
	GCGrace        duration `toml:"gc_grace"`
	GCLease        duration `toml:"gc_lease"`
	GCInterval     duration `toml:"gc_interval"`
	FSTimeout      duration `toml:"fs_timeout"`
}

// duration is a time.Duration written as "30s" in TOML.
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// defaultConfigText is written to a new repo: every setting, explained.
const defaultConfigText = `# meshfs daemon configuration. Flags given to 'meshfs daemon' override these
# values for that run; edit this file to change them for good.

# Multiaddrs the peer listens on: TCP, QUIC and WebSocket (the browser node
# dials the /ws one). Port 0 picks a free port.
listen = ["/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1", "/ip4/0.0.0.0/tcp/4102/ws"]

# Secure WebSocket, for browser pages served over https (they may open only
# wss:// connections): the certificate chain and its private key, PEM files
# (a relative path is in this repo), presented on the /tls/ws listen
# addresses, e.g. "/dns4/mesh.example.org/tcp/4103/tls/ws" added to listen.
# Give both or neither. They are read at start: restart after renewing them.
ws_cert = ""
ws_key = ""

# Address of the HTTP API, the IPFS gateway (/ipfs/) and /metrics.
# On loopback the API is open to local programs; anywhere else every API call
# must carry "Authorization: Bearer TOKEN", TOKEN being the repo's api.token
# (made at first such start; the CLI reads it from $MESHFS_API_TOKEN).
api = "127.0.0.1:5101"

# Peers to join at start, as multiaddrs ending in /p2p/PEER-ID.
bootstrap = []

# R: how many peers (the XOR-closest to a block's key) keep each block.
replication = 3

# W: how many of them must acknowledge a block durable before an add succeeds.
write_quorum = 2

# How often this peer checks that the blocks it holds are on their home peers
# (a check also runs a second after peers come or go).
repair_interval = "30s"

# Bytes of blocks fetched for reads kept in memory.
cache_bytes = 268435456

# A client peer reads and writes through the mesh but is never home to
# blocks (for a laptop that comes and goes).
client = false

# The namespace: the shared, mutable file tree (meshfs fs ...) that this peer
# serves. Its voters elect its writer; give the same first voters (peer IDs,
# 1 to 7, 3 is usual) to every daemon of the mesh. They matter only when the
# namespace starts: later voters come and go through 'meshfs fs voters'.
# With no voters this peer serves no namespace.
namespace = "meshfs"
voters = []

# Garbage collection, for a peer that serves the namespace. The writer
# publishes, with each root record, a summary of the live blocks: those
# reachable from the namespace's last gc_roots roots and from its pins.
# Every gc_interval this peer judges the blocks it holds against the newest
# summary; a block dead (and not leased to a write in flight, which protects
# it gc_lease from its push) for gc_grace without a break is deleted. Files
# added outside the namespace are kept by their pins ('meshfs add' pins).
gc = true
gc_roots = 16
gc_grace = "1h"
gc_lease = "15m"
gc_interval = "1m"

# How long a namespace change or a strong read waits for the writer and its
# quorum before the API answers that none is reachable (or, for a change
# already proposed, that its outcome is unknown).
fs_timeout = "60s"
`

// loadOrInitRepo creates the repo folder and its config on first start and
// returns the config.
func loadOrInitRepo(dir string) (daemonConfig, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return daemonConfig{}, fmt.Errorf("repo: %w", err)
	}
	path := filepath.Join(dir, configFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteFile(path, []byte(defaultConfigText), 0o600); err != nil {
			return daemonConfig{}, fmt.Errorf("repo: %w", err)
		}
	}
	var cfg daemonConfig
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return daemonConfig{}, fmt.Errorf("repo: %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return daemonConfig{}, fmt.Errorf("repo: %s: unknown setting %q", path, und[0].String())
	}
	cfg.WSCert, cfg.WSKey = inRepo(dir, cfg.WSCert), inRepo(dir, cfg.WSKey)
	return cfg, nil
}

// inRepo resolves a path from config.toml: a relative one is in the repo.
func inRepo(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// loadWebSocketTLS reads the secure WebSocket certificate chain and key
// (PEM files). It warns on errout when the certificate has expired:
// browsers will refuse it, but the daemon still serves everyone else.
func loadWebSocketTLS(certFile, keyFile string, errout io.Writer) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("secure WebSocket certificate (ws_cert %s, ws_key %s): %w", certFile, keyFile, err)
	}
	if cert.Leaf != nil && time.Now().After(cert.Leaf.NotAfter) {
		fmt.Fprintf(errout, "meshfs daemon: the secure WebSocket certificate %s expired on %s: browsers will refuse it\n",
			certFile, cert.Leaf.NotAfter.Format(time.DateOnly))
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// daemonInfo is daemon.json: how to reach a running daemon.
type daemonInfo struct {
	ID    string   `json:"id"`
	API   string   `json:"api"`
	Addrs []string `json:"addrs"`
	Repo  string   `json:"repo"`
	PID   int      `json:"pid"`
}

func writeDaemonInfo(dir string, info daemonInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, daemonFile), append(b, '\n'), 0o644)
}
