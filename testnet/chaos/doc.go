// Package chaos checks the namespace the way etcd and Jepsen check theirs:
// concurrent clients write, append to and read small files, make folders,
// rename and remove names and list folders, through the HTTP API of every
// daemon of a real testnet, while a nemesis, on a seeded schedule,
// SIGKILLs and restarts daemons, SIGSTOPs and resumes them (the writer
// included), cuts the writer off, splits the mesh in two, or bridges it
// (two sides that cannot talk and one voter that talks to both). Every
// operation is recorded with its invoke and completion times and its
// outcome: ok (applied, or refused with a definite error such as notexist
// or notempty, which the model must predict), failed (refused before it
// was taken: certainly not applied), or unknown when a timeout or a broken
// connection leaves it open. Then the history is checked for
// linearizability with porcupine against a model of the namespace, one
// folder of the workload's key space at a time (an unknown change may take
// effect at any time after its invocation, or never); a final strong read
// of every path and folder is part of the history (so an acknowledged
// change that was lost fails the check), and the daemons' logs must show
// at most one writer per term. The nemesis keeps to a fault budget: a
// minority of the voters down, paused or cut off from the others.
package chaos
