package testnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// stopTimeout is how long Stop and Close wait for a daemon to exit after
// SIGTERM before they SIGKILL it; killTimeout how long they then wait for
// the kernel to end it.
const (
	stopTimeout = 10 * time.Second
	killTimeout = 10 * time.Second
)

// Net is a running local mesh. Its methods may be called from several
// goroutines; Close ends it.
type Net struct {
	cfg Config
	dir string // Config.Dir, absolute
	api *apiClient

	mu          sync.Mutex
	members     []*member
	partitioned bool
	closed      bool
	voters      []string // peer IDs of the namespace's first voters
	started     bool     // Start succeeded: testnet.json is the Net's to write

	writeMu sync.Mutex // orders the writes of testnet.json
}

// Start launches cfg.Peers daemons one after the other, each bootstrapped
// to every daemon already running, waits until each one's routing table
// holds every other one (at most 20), and writes Dir/testnet.json. The
// whole start is bounded by cfg.Ready and ctx. If a daemon fails to start,
// Start stops the others and returns an error with the tail of its log.
func Start(ctx context.Context, cfg Config) (*Net, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	n := &Net{cfg: cfg, dir: dir, api: newAPIClient()}
	ctx, cancel := context.WithTimeout(ctx, cfg.ready())
	defer cancel()
	if n.voters, err = n.initVoters(ctx); err != nil {
		return nil, err
	}
	for range cfg.Peers {
		if _, err := n.add(ctx, nil); err != nil {
			return nil, errors.Join(err, n.Close())
		}
	}
	if err := n.WaitMesh(ctx); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	if len(n.voters) > 0 {
		if _, err := n.WaitWriter(ctx); err != nil {
			return nil, errors.Join(err, n.Close())
		}
	}
	if cfg.Open {
		if err := n.open(ctx); err != nil {
			return nil, errors.Join(fmt.Errorf("testnet: open the namespace: %w", err), n.Close())
		}
	}
	n.mu.Lock()
	n.started = true
	n.mu.Unlock()
	if err := n.writeDescription(); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	return n, nil
}

// Dir returns the testnet's folder (absolute).
func (n *Net) Dir() string { return n.dir }

// DescriptionPath returns the path of testnet.json.
func (n *Net) DescriptionPath() string { return filepath.Join(n.dir, descriptionFile) }

// Peers returns every peer's description, in index order, those that are
// down included (see Peer.State).
func (n *Net) Peers() []Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Peer, len(n.members))
	for i, m := range n.members {
		out[i] = m.snapshot()
	}
	return out
}

// Peer returns peer i's description; it panics if there is no peer i, like
// an index out of range.
func (n *Net) Peer(i int) Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.members[i].snapshot()
}

// Close stops every daemon (SIGTERM, then SIGKILL after 10 s), all at once,
// and rewrites testnet.json. It reports daemons that did not stop cleanly.
// Closing twice does nothing.
func (n *Net) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	var procs []*process
	var idx []int
	for i, m := range n.members {
		if m.alive() {
			m.state = Stopped
			procs = append(procs, m.proc)
			idx = append(idx, i)
		}
	}
	n.mu.Unlock()

	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for k, p := range procs {
		wg.Go(func() { errs[k] = stopProcess(idx[k], p) })
	}
	wg.Wait()
	n.api.close()
	return errors.Join(append(errs, n.writeDescription())...)
}

// stopProcess ends a daemon: SIGTERM (and SIGCONT, in case it is paused),
// then SIGKILL if it has not exited after stopTimeout. It reports a daemon
// that had to be killed or did not exit with status 0.
func stopProcess(i int, p *process) error {
	err := p.signal(sigTerm)
	if sigCont != nil {
		err = errors.Join(err, p.signal(sigCont))
	}
	if err != nil {
		return err
	}
	if p.waitExit(stopTimeout) {
		if !p.cleanExit() {
			return fmt.Errorf("testnet: peer %d stopped with %s; its log ends:\n%s", i, p.exitStatus(), logTail(p.log))
		}
		return nil
	}
	if err := p.signal(os.Kill); err != nil {
		return err
	}
	if !p.waitExit(killTimeout) {
		return fmt.Errorf("testnet: peer %d (pid %d) survives SIGKILL", i, p.pid())
	}
	return fmt.Errorf("testnet: peer %d did not stop within %v of SIGTERM and was killed; its log ends:\n%s", i, stopTimeout, logTail(p.log))
}

// member returns peer i's record. Call with the lock held.
func (n *Net) member(i int) (*member, error) {
	if i < 0 || i >= len(n.members) {
		return nil, fmt.Errorf("%w: %d (the mesh has %d)", ErrNoSuchPeer, i, len(n.members))
	}
	return n.members[i], nil
}

// readyCtx bounds ctx by the ready timeout.
func (n *Net) readyCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.cfg.ready())
}
