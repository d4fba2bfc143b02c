package testnet

import "slices"

// State is where a peer's daemon is in its life.
type State string

// The states of a peer's daemon.
const (
	Starting State = "starting" // launched, not yet ready
	Running  State = "running"
	Paused   State = "paused"  // SIGSTOPped by Pause
	Stopped  State = "stopped" // ended by Stop or Close
	Killed   State = "killed"  // SIGKILLed by Kill
	Exited   State = "exited"  // ended without being asked to
)

// Peer describes one daemon of the mesh, as of the call that returned it.
// ID stays the same across restarts (the identity is in the repo); API,
// Addrs and PID change. The JSON names are those of testnet.json.
type Peer struct {
	Index int      `json:"index"`
	ID    string   `json:"id"`
	API   string   `json:"api"`   // http://127.0.0.1:PORT
	Addrs []string `json:"addrs"` // multiaddrs ending in /p2p/ID
	Repo  string   `json:"repo"`
	PID   int      `json:"pid"` // the latest process, even if it ended
	Log   string   `json:"log"` // stdout and stderr of every run, appended
	State State    `json:"state"`
	Exit  string   `json:"exit,omitempty"` // how the latest process ended
}

// Up reports whether the daemon is running or paused.
func (p Peer) Up() bool { return p.State == Running || p.State == Paused }

// member is the Net's record of one peer.
type member struct {
	info   Peer     // everything but State and Exit, as last known
	state  State    // as the Net last set it
	proc   *process // the latest process; nil before the first launch
	group  int      // partition group, while the Net is partitioned
	bridge bool     // reaches every group, while the Net is partitioned (Bridge)
	extra  []string // daemon flags of this peer only
	client bool     // started with --client: in no one's routing table
}

// snapshot returns the peer's description; a process that ended on its own
// shows as Exited. Call with the Net's lock held.
func (m *member) snapshot() Peer {
	p := m.info
	p.Addrs = slices.Clone(m.info.Addrs)
	p.State = m.state
	if m.proc != nil && m.proc.exited() {
		if m.state == Starting || m.state == Running || m.state == Paused {
			p.State = Exited
		}
		p.Exit = m.proc.exitStatus()
	}
	return p
}

// alive reports whether the member's process is running (or paused) as far
// as the Net asked it to. Call with the Net's lock held.
func (m *member) alive() bool {
	return m.proc != nil && !m.proc.exited() && (m.state == Running || m.state == Paused || m.state == Starting)
}
