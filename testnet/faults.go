package testnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// signalPoll is how often Pause and Resume look at the daemon's threads;
// signalTimeout bounds that wait.
const (
	signalPoll    = 10 * time.Millisecond
	signalTimeout = 5 * time.Second
)

// Kill ends peer i's daemon with SIGKILL, as a crash would, and waits until
// it is gone. Its daemon.json stays behind, as after a real crash.
func (n *Net) Kill(i int) error {
	p, err := n.take(i, Killed)
	if err != nil {
		return err
	}
	if err := p.signal(os.Kill); err != nil {
		return err
	}
	if !p.waitExit(killTimeout) {
		return fmt.Errorf("testnet: peer %d (pid %d) survives SIGKILL", i, p.pid())
	}
	return n.writeDescription()
}

// Stop ends peer i's daemon with SIGTERM and waits for its clean exit; after
// 10 s it kills it and says so.
func (n *Net) Stop(i int) error {
	p, err := n.take(i, Stopped)
	if err != nil {
		return err
	}
	return errors.Join(stopProcess(i, p), n.writeDescription())
}

// take marks peer i's running or paused daemon as being ended (to state)
// and returns its process.
func (n *Net) take(i int, to State) (*process, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m, err := n.member(i)
	if err != nil {
		return nil, err
	}
	if m.state == Starting || !m.alive() {
		return nil, fmt.Errorf("%w: peer %d is %s", ErrState, i, m.snapshot().State)
	}
	m.state = to
	return m.proc, nil
}

// Pause stops peer i's daemon with SIGSTOP: it keeps its connections but
// answers nothing. On Linux, Pause returns once every thread is stopped.
func (n *Net) Pause(i int) error {
	return n.freeze(i, Running, Paused, sigStop)
}

// Resume continues peer i's paused daemon with SIGCONT.
func (n *Net) Resume(i int) error {
	return n.freeze(i, Paused, Running, sigCont)
}

// freeze sends sig to peer i's daemon, which must be in state from, and
// waits until its threads are stopped (SIGSTOP) or running (SIGCONT).
func (n *Net) freeze(i int, from, to State, sig os.Signal) error {
	if sig == nil {
		return fmt.Errorf("testnet: pause and resume: %w", errors.ErrUnsupported)
	}
	n.mu.Lock()
	m, err := n.member(i)
	if err == nil && (m.state != from || !m.alive()) {
		err = fmt.Errorf("%w: peer %d is %s, not %s", ErrState, i, m.snapshot().State, from)
	}
	if err != nil {
		n.mu.Unlock()
		return err
	}
	p := m.proc
	if err := p.signal(sig); err != nil {
		n.mu.Unlock()
		return err
	}
	m.state = to
	n.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
	defer cancel()
	err = poll(ctx, signalPoll, func(context.Context) (string, error) {
		if p.exited() {
			return "", fmt.Errorf("%w: peer %d ended with %s", ErrDaemonExited, i, p.exitStatus())
		}
		all, none, ok := threadsStopped(p.pid())
		switch {
		case !ok, sig == sigStop && all, sig == sigCont && none:
			return "", nil
		}
		return fmt.Sprintf("peer %d's threads have not all taken %v", i, sig), nil
	})
	return errors.Join(err, n.writeDescription())
}

// Restart starts peer i's daemon again on its repo (same identity, new
// ports) after Kill, Stop or a crash, bootstrapped to every running peer,
// and returns once the mesh includes it again (WaitMesh). While partitioned
// it is cut off again from the other groups; it learns their addresses
// only from its bootstrap list, which libp2p keeps for two minutes, and the
// others know only its old ports: heal within two minutes, or it may not
// find them again.
func (n *Net) Restart(ctx context.Context, i int) error {
	n.mu.Lock()
	m, err := n.member(i)
	var prevState State
	var prevProc *process
	switch {
	case err != nil:
	case n.closed:
		err = ErrClosed
	case m.state == Starting || m.alive():
		err = fmt.Errorf("%w: peer %d is %s", ErrState, i, m.snapshot().State)
	default:
		prevState, prevProc = m.state, m.proc
		m.state, m.proc = Starting, nil
	}
	n.mu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := n.readyCtx(ctx)
	defer cancel()
	if err := n.launch(ctx, i); err != nil {
		n.mu.Lock()
		if m.proc == nil { // it never started: it is as it was
			m.state, m.proc = prevState, prevProc
		}
		n.mu.Unlock()
		return errors.Join(err, n.writeDescription())
	}
	if err := n.reapplyPartition(ctx, i); err != nil {
		return errors.Join(err, n.writeDescription())
	}
	return errors.Join(n.WaitMesh(ctx), n.writeDescription())
}

// AddPeer starts one more daemon, bootstrapped to every running peer, with
// extra daemon flags after the Config's (e.g. --client for a peer that is
// never home to blocks: the others need not have it in their routing
// tables), and returns its index once the mesh includes it. It is refused
// while the mesh is partitioned. If the daemon was launched but the wait
// failed, the error comes with its index; otherwise with -1.
func (n *Net) AddPeer(ctx context.Context, extra ...string) (int, error) {
	ctx, cancel := n.readyCtx(ctx)
	defer cancel()
	i, err := n.add(ctx, extra)
	if i < 0 {
		return i, err
	}
	if err == nil {
		err = n.WaitMesh(ctx)
	}
	return i, errors.Join(err, n.writeDescription())
}
