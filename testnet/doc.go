// Package testnet runs a local mesh of real `meshfs daemon` processes on
// 127.0.0.1, for tests, `meshfs testnet` and `make run`, and injects faults
// into it.
//
// [Start] launches [Config.Peers] daemons, each with its own repo
// (Dir/peer-NN), log (Dir/peer-NN/daemon.log) and free ports, bootstraps each
// one to the daemons already running, waits until every routing table holds
// the others ([Net.WaitMesh]) and describes the mesh in Dir/testnet.json
// (peer IDs, API URLs, multiaddrs, repos, PIDs). The faults are those of real
// machines: [Net.Kill] (SIGKILL), [Net.Stop] (SIGTERM), [Net.Pause] and
// [Net.Resume] (SIGSTOP, SIGCONT), [Net.Restart] on the same repo and
// identity, [Net.AddPeer], and [Net.Partition] and [Net.Heal], which go
// through the daemons' test-only control endpoint (every daemon is started
// with --test-control) to block peers in their connection gaters. Every
// waiting is a poll bounded by a deadline. Daemons run in their own process
// groups, so a terminal's Ctrl-C reaches only the launcher, which then stops
// them with [Net.Close]; on Linux a daemon is also killed if its launcher
// dies. [Remove] clears a testnet folder whose daemons are gone; [Build]
// compiles the binary for tests. Pause and Resume need Unix signals (on
// other systems Stop and Close kill the daemons).
package testnet
