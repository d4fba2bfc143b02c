// Package chaos checks the namespace the way etcd and Jepsen check theirs:
// concurrent clients write and read small files (registers) through the
// HTTP API of every daemon of a real testnet while a nemesis, on a seeded
// schedule, SIGKILLs and restarts daemons, SIGSTOPs and resumes them (the
// writer included) and cuts the writer off; every operation is recorded
// with its invoke and completion times and its outcome (ok, failed, or
// unknown when a timeout or a broken connection leaves it open). Then the
// history is checked for linearizability, one register at a time, with
// porcupine (an unknown write may take effect at any time after its
// invocation), a final strong read of every register is part of the
// history (so an acknowledged write that was lost fails the check), and the
// daemons' logs must show at most one writer per term. The nemesis keeps to
// a fault budget of one voter down at a time (a minority of 3).
package chaos
