// Package gc is the pure logic of meshfs's garbage collection: which blocks
// are live, how the writer summarizes that for every holder, and what a
// holder may delete. It has no goroutines, clocks or sockets: time comes in
// as values, blocks through a [content.BlockGetter], and every piece of
// state is a value the caller persists.
//
//   - [Mark] walks the DAGs under a list of roots and returns their [Live]
//     set, incrementally over the previous one.
//   - [NewSummary] turns a complete live set into a [Summary]: a bloom
//     filter over block digests whose only error is the safe one, with the
//     [Cover] (namespace, last K roots, pins, in-flight CIDs) it was marked
//     from; [Summary.Encode] and [DecodeSummary] give it a canonical,
//     signable encoding, and [CheckSummary] says when a holder may trust it.
//   - [Leases] protects the blocks of writes in flight.
//   - [Policy.Decide] and [Policy.Sweep] judge each held block: keep, wait
//     (dead, in its grace period) or delete, with a reason; [DeadSince] is
//     the state a holder keeps between passes.
//
// # Terms
//
// The namespace's writer commits operations at Raft log indexes and, now
// and then, renders the state at an index I as a UnixFS directory, its root,
// and publishes a signed root record (term, I, root). The window at I is the
// last K published roots up to I ([WindowAppend]). A block is live at I if
// it is reachable from a root of the window, from a CID pinned in the state
// at I, or from a CID named by an entry of the writer's log after I (an
// operation in flight). A holder is a peer that stores blocks; a home of a
// block is one of the R peers XOR-closest to its digest. A write pushes its
// blocks to their homes, then proposes one operation naming its content; it
// is acknowledged per the rules below.
//
// # Rules
//
// The safety argument rests on these rules; the code in this package does
// the parts marked (here), the daemon wiring does the rest.
//
// Writer:
//
//   - W1 (what is marked). For the root record of index I, the writer marks
//     (here: [Mark]) the window's roots, the pins in the state at I, and, as
//     [Cover.Extra], every CID named by an entry of its log after I. It
//     publishes summaries only once it has committed an entry of its own
//     term (as a Raft leader does before it serves reads), so that every
//     entry that can still commit is in its log.
//   - W2 (only complete marks). It builds a summary only from a complete
//     mark (here: [NewSummary] refuses an incomplete one). When a mark is
//     incomplete (a dag-pb node could not be fetched) it publishes its record
//     without a summary, and holders go on with the one they trust.
//   - W3 (publication). The summary's bytes are stored in the mesh as a
//     UnixFS file, pushed like a write's blocks (leased, then released at I),
//     and the record of (term, I) names that file's CID in a signed field.
//     The summary states the (term, I, root) it is as of (here: [Cover],
//     in the encoding), so a holder can match it to the record. The
//     writer's own rendered directory blocks are pushed the same way before
//     the record is published.
//   - W4 (no unleased revival). An operation that names content X (sets a
//     file's content to X, pins X) is committed only if it is a write whose
//     client leased every block of X at its homes (C1), or X was live
//     already: X is reachable in the state the operation applies to (the
//     state machine checks this when it applies it), or X is in the writer's
//     latest complete live set when it proposes the operation, the check and
//     the append to its log made in one step of its loop so that no mark
//     falls between them (W1 then keeps X in every summary until the
//     operation is in a root). Pinning an old root that has left the window
//     is a write: lease its blocks (lease-only messages, no bytes), check
//     with [Mark] that its DAG is complete, then propose.
//
// Client:
//
//   - C1 (lease). A client pushes each block with a lease expiry (at most
//     [Config.LeaseTTL] away); a block it reuses rather than pushes gets a
//     lease-only message. It counts a home's acknowledgement only once the
//     home has recorded the lease.
//   - C2 (release). When the operation commits at index c, the client sends
//     Release(blocks, c) to the homes that acknowledged, and reports the
//     write acknowledged once a write quorum of them has recorded it and
//     said it still holds every block (re-pushing a block a home lacks).
//
// Holder (a home, or any peer that stores blocks):
//
//   - P (push). On a push of block B, under a lock for B: add the lease
//     (here: [Leases.Add], with the expiry capped at its own now + LeaseTTL),
//     then store B unless it is held, then acknowledge. On a release, record
//     it (here: [Leases.Release]) and answer whether B is held. The lease
//     table is persisted before the answer ([Leases.Encode]).
//   - H1 (trust). It trusts only a summary that a root record names whose
//     signature verifies and whose signer is a voter of the namespace, that
//     decodes ([DecodeSummary]), and that passes [CheckSummary] against that
//     record's (term, index, root) and the summary it trusts already: trust
//     never goes back to an older summary.
//   - H2 (decide). It judges its blocks with [Policy.Sweep] with Live = the
//     trusted summary, Index = its [Summary.Index], Pins = its local pins
//     plus the blocks of the trusted summary's own file (W3), its Leases and
//     [Config.Grace]; it persists the returned [DeadSince] (losing it only
//     delays deletion). With no trusted summary it collects nothing.
//   - H3 (prune). It prunes leases ([Leases.Prune]) only with the trusted
//     summary's index.
//   - H4 (recheck). It deletes a block only after deciding it again
//     ([Policy.Decide]) under the same lock as P, with the leases and state
//     as they are then, and only if that says [Delete].
//   - H5 (repair). Repair never drops a block that is leased, pinned or
//     live; GC deletes only through H4.
//   - H6 (several namespaces). A block goes only if every namespace's policy
//     says Delete (each with its own DeadSince and Leases); a holder that
//     stores blocks of a namespace whose summary it does not trust collects
//     nothing. Content in no namespace is dead: keep it with a pin.
//
// # Why nothing live is deleted
//
// Claim 1. A holder H does not delete a block B while (a) B is live at the
// index I_H of the summary S_H it trusts, or (b) B's lease at H has not
// expired, or (c) B was released at an index c > I_H.
//
// H deletes only through H4, which re-runs Decide under B's lock. In case
// (a), B was marked (W1) by a complete mark (W2), so its digest was inserted
// in S_H's filter; a bloom filter answers false only if one of the k bits a
// key selects is clear, and insertion set all of them, so MayBeLive(B) is
// true and Decide keeps B. The bits a key selects depend only on the
// parameters carried in the encoding (m, k, salt: see [Summary]), never on
// the code's version, so the writer's insertion and the holder's test agree.
// In cases (b) and (c), [Leases] protects B and Decide keeps it. The lock
// orders a concurrent push and a recheck: if the push's Add comes first,
// the recheck sees the lease; if the delete comes first, the push finds B
// missing and stores it before it acknowledges. A missing DeadSince entry
// counts as "first seen dead now", so no loss of state shortens a grace
// period.
//
// Claim 2. Let N be the writer's newest index. A home H that acknowledged
// a push of B (or holds B while B is live at I_H) keeps B while B is
// reachable from the window at N, a pin or the committed state, or from
// the CID of an operation in the log that is not a write, or belongs to a
// write in flight whose lease at H has not expired.
//
// If B is live at I_H, Claim 1(a). Otherwise let o be the earliest log entry
// after I_H that names a CID X reaching B (there is one: B is not live at
// I_H, so some entry after I_H made it reachable). If o is a write, its
// client leased B at H (C1): while o is in flight, Claim 1(b); once it has
// committed at c > I_H, the Release that the write's acknowledgement waited
// for (C2) gives Claim 1(c). If o is not a write, W4 says X was live
// already, and each way contradicts the choice of o. Reachable in the state
// o applies to: the state at I_H reached B (B live at I_H), or an entry
// between I_H and o did. In the writer's live set as of I_w: if I_w >= I_H,
// a root of that window older than I_H is in the window at I_H too (fewer
// roots lie between it and I_H), a pin there was pinned at I_H or re-pinned
// by an entry before o, and its newer roots and its Extra were reached
// through entries before o; if I_w < I_H, the writer proposed o before it
// marked the summary at I_H, so o was in its log after I_H then (W1: a
// writer that marks has every entry that can still commit) and X is in
// that summary's Extra. Trust only moves forward (H1) and leases are pruned
// only against the trusted index (H3), so a protection lasts until H trusts
// a summary as of an index >= c, which holds B if B is still live then.
//
// # The race: a dead block pushed again just before its commit
//
// Take B dead in S_H (as of I), found dead at t0 and due to go at
// t0 + Grace, when a write pushes the same bytes at t1 and commits at c. At
// t1, P adds a lease under B's lock: a collector that had already decided
// to delete B rechecks under the lock and keeps it, or has deleted it
// already and the push stores it again. The next pass finds B leased and
// forgets its DeadSince, so its clock restarts only when all protection
// ends. At t2 the client releases B at c; the lease's expiry may pass, but
// B stays protected while H trusts a summary as of an index below c: the
// summary's index, signed in the record, is what tells H whether the
// summary can know about B's write (if c <= I, S_H knew the write, and
// B, dead in it, was overwritten by I). When H trusts S' as of I' >= c,
// S' holds B if the write's content is still live at I' (in the window,
// pinned or in flight). If it is not (overwritten again and out of the
// window), B is garbage, and goes one grace period later.
//
// # What the grace period is for
//
// With the rules kept, no deletion depends on a clock: the grace period is
// a second line of defence for when they are not. A Release lost because
// the client died after its commit (the write was never acknowledged, but
// its content is in the namespace) leaves B protected until its lease
// expires and then for Grace more, so the content survives if the writer
// publishes and H adopts a summary as of c within LeaseTTL + Grace of the
// push. The same margin covers clock skew between client and holder (the
// holder caps the lease with its own clock), a holder that lost its lease
// table in a crash (its DeadSince is gone too, so every clock restarts),
// and a holder slow to adopt a new summary.
//
// The model test (model_test.go) runs the whole protocol with random
// interleavings and checks Claim 2 after every step; it also shows that
// dropping the recheck (H4), the Extra CIDs (W1), the index of a Release
// (H2, H3), or the grace period when Releases are lost, loses blocks.
//
// # Missing blocks
//
// A dag-pb node [Mark] cannot fetch or decode hides its subtree, so the
// mark is incomplete ([Live.Complete]) and no summary is built from it
// (W2): a lost block stops collection in its namespace until the node is
// found again or stops being live (overwritten and out of the window, or
// unpinned). A missing raw block is reported ([Live.Missing], with
// MarkOptions.FetchLeaves) but does not make a mark incomplete: it has no
// links, so nothing live can hide below it.
package gc
