package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	// daemonFile is what a daemon writes into its repo once it is ready.
	daemonFile = "daemon.json"
	logFile    = "daemon.log"
	// listenAddrs gives every daemon free loopback ports on TCP, QUIC and
	// WebSocket.
	listenAddrs = "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1,/ip4/127.0.0.1/tcp/0/ws"
	// readyPoll is how often a starting daemon's daemon.json is looked for.
	readyPoll = 50 * time.Millisecond
)

// daemonInfo is a daemon's daemon.json.
type daemonInfo struct {
	ID    string   `json:"id"`
	API   string   `json:"api"`
	Addrs []string `json:"addrs"`
	PID   int      `json:"pid"`
}

// add appends a peer to the mesh and launches its daemon. It returns the
// peer's index, or -1 if it added none.
func (n *Net) add(ctx context.Context, extra []string) (int, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return -1, ErrClosed
	}
	if n.partitioned {
		n.mu.Unlock()
		return -1, fmt.Errorf("%w: heal it before adding a peer", ErrPartitioned)
	}
	i := len(n.members)
	repo := filepath.Join(n.dir, fmt.Sprintf("peer-%02d", i))
	n.members = append(n.members, &member{
		info:   Peer{Index: i, Repo: repo, Log: filepath.Join(repo, logFile)},
		state:  Starting,
		extra:  extra,
		client: slices.Contains(extra, "--client"),
	})
	n.mu.Unlock()
	err := n.launch(ctx, i)
	if err != nil {
		n.mu.Lock()
		if m := n.members[i]; m.proc == nil { // it never started
			m.state = Stopped
		}
		n.mu.Unlock()
	}
	return i, err
}

// launch starts peer i's daemon on its repo, bootstrapped to the running
// peers it may reach, and waits until it has written a fresh daemon.json.
func (n *Net) launch(ctx context.Context, i int) error {
	n.mu.Lock()
	m := n.members[i]
	repo, logPath, extra := m.info.Repo, m.info.Log, m.extra
	bootstrap := n.bootstrapAddrs(i)
	voters := n.voters
	n.mu.Unlock()

	if err := os.MkdirAll(repo, 0o700); err != nil {
		return fmt.Errorf("testnet: peer %d: %w", i, err)
	}
	if err := removeStaleInfo(repo); err != nil {
		return fmt.Errorf("testnet: peer %d: %w", i, err)
	}
	args := []string{"daemon", "--repo", repo, "--listen", listenAddrs, "--api", "127.0.0.1:0", "--test-control"}
	if len(bootstrap) > 0 {
		args = append(args, "--bootstrap", strings.Join(bootstrap, ","))
	}
	if len(voters) > 0 {
		args = append(args, "--voters", strings.Join(voters, ","))
	}
	args = append(args, n.cfg.DaemonArgs...)
	args = append(args, extra...)
	p, err := startProcess(n.cfg.Binary, args, logPath)
	if err != nil {
		return fmt.Errorf("testnet: peer %d: %w", i, err)
	}

	n.mu.Lock()
	if n.closed { // Close did not see this process: end it here
		n.mu.Unlock()
		_ = p.signal(os.Kill)
		<-p.done
		return ErrClosed
	}
	m.proc, m.state, m.info.PID = p, Starting, p.pid()
	n.mu.Unlock()
	go n.watchExit(i, p)

	info, err := waitDaemonInfo(ctx, i, p, repo)
	if err != nil {
		n.mu.Lock()
		if m.proc == p && m.state == Starting {
			m.state = Killed
		}
		n.mu.Unlock()
		_ = p.signal(os.Kill)
		<-p.done
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if m.proc != p || m.state != Starting {
		return fmt.Errorf("%w: peer %d was %s while it started", ErrState, i, m.snapshot().State)
	}
	m.state = Running
	m.info.ID, m.info.API, m.info.Addrs = info.ID, info.API, info.Addrs
	return nil
}

// waitDaemonInfo waits until the daemon p writes its daemon.json into repo.
func waitDaemonInfo(ctx context.Context, i int, p *process, repo string) (daemonInfo, error) {
	var info daemonInfo
	path := filepath.Join(repo, daemonFile)
	err := poll(ctx, readyPoll, func(context.Context) (string, error) {
		if p.exited() {
			return "", fmt.Errorf("%w: peer %d (pid %d) ended with %s before it was ready; its log %s ends:\n%s",
				ErrDaemonExited, i, p.pid(), p.exitStatus(), p.log, logTail(p.log))
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "no " + daemonFile + " yet", nil
		}
		if err != nil {
			return "", fmt.Errorf("testnet: peer %d: %w", i, err)
		}
		info = daemonInfo{}
		if err := json.Unmarshal(b, &info); err != nil {
			return "", fmt.Errorf("testnet: peer %d: %s: %w", i, path, err)
		}
		if info.PID != p.pid() {
			return fmt.Sprintf("%s names pid %d, not %d", daemonFile, info.PID, p.pid()), nil
		}
		if info.ID == "" || info.API == "" || len(info.Addrs) == 0 {
			return "", fmt.Errorf("testnet: peer %d: %s lacks the id, api or addrs", i, path)
		}
		return "", nil
	})
	if errors.Is(err, ErrNotReady) {
		return info, fmt.Errorf("testnet: peer %d (pid %d): %w; its log %s ends:\n%s", i, p.pid(), err, p.log, logTail(p.log))
	}
	return info, err
}

// watchExit reports a daemon that ends without being asked to: it rewrites
// testnet.json and calls Config.OnExit.
func (n *Net) watchExit(i int, p *process) {
	<-p.done
	n.mu.Lock()
	m := n.members[i]
	unasked := m.proc == p && (m.state == Running || m.state == Paused)
	peer := m.snapshot()
	n.mu.Unlock()
	if !unasked {
		return
	}
	_ = n.writeDescription()
	if n.cfg.OnExit != nil {
		n.cfg.OnExit(peer)
	}
}

// bootstrapAddrs returns the TCP multiaddrs of every running peer other than
// i. While partitioned, those of the other groups are included too: they
// refuse the restarted peer (their gaters block it), but it learns their
// addresses and can redial them when the partition heals. Call with the lock
// held.
func (n *Net) bootstrapAddrs(i int) []string {
	var out []string
	for j, m := range n.members {
		if j == i || m.state != Running || !m.alive() {
			continue
		}
		out = append(out, tcpAddrs(m.info.Addrs)...)
	}
	return out
}

// tcpAddrs returns the plain TCP addresses among addrs, or all of them if
// there is none.
func tcpAddrs(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if strings.Contains(a, "/tcp/") && !strings.Contains(a, "/ws") && !strings.Contains(a, "/tls") {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return addrs
	}
	return out
}
