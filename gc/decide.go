package gc

import (
	"fmt"
	"iter"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// LiveSet answers whether a block may be live. An implementation may say
// true for a dead block (a false positive), never false for a live one.
// [*Summary] and [*Live] implement it.
type LiveSet interface {
	MayBeLive(m mh.Multihash) bool
}

// completer is the optional ability of a LiveSet to say it is incomplete
// ([Live.Complete]); Decide collects nothing on an incomplete set.
type completer interface{ Complete() bool }

// Policy is what a holder decides with, one namespace at a time: the live
// set it trusts and what else protects blocks. The zero Policy keeps
// everything.
type Policy struct {
	// Live is the trusted live set: the [*Summary] from the namespace's
	// current signed root record ([CheckSummary]), or, where one peer
	// marks for itself, a complete [*Live]. Nil: nothing is collected.
	Live LiveSet
	// Index is the log index Live is as of ([Summary.Index]). Released
	// leases committed above it still protect their blocks.
	Index uint64
	// Pins, if set, are blocks this holder keeps whatever Live says: the
	// blocks of the summary it trusts (doc.go rule H2) and any local pins.
	Pins LiveSet
	// Leases, if set, are the writes in flight pushed to this holder.
	Leases *Leases
	// Grace is how long a block must have been seen dead, at every pass
	// since, before it is deleted (>= 0; Config.Grace).
	Grace time.Duration
}

// Verdict is what to do with one block.
type Verdict uint8

// Verdicts, from the most protective.
const (
	// Keep: the block is live, pinned, leased, or cannot be judged.
	Keep Verdict = iota
	// Wait: the block is dead but its grace period has not passed.
	Wait
	// Delete: the block has been dead for the grace period; the caller
	// deletes it after rechecking it (doc.go rule H4).
	Delete
)

func (v Verdict) String() string {
	switch v {
	case Keep:
		return "keep"
	case Wait:
		return "wait"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Why classifies a decision, for accounting.
type Why uint8

// Reasons for a decision.
const (
	// WhyUntrusted: no complete live set is trusted, so nothing is judged.
	WhyUntrusted Why = iota
	// WhyForeign: the CID is not one meshfs stores; it is never collected.
	WhyForeign
	// WhyPinned: the block is in Policy.Pins.
	WhyPinned
	// WhyLive: the live set may hold the block.
	WhyLive
	// WhyLeased: a write in flight protects the block.
	WhyLeased
	// WhyDead: the live set does not hold it and nothing protects it.
	WhyDead
)

// Decision is the verdict on one block, with a reason for `gc --dry-run`.
type Decision struct {
	CID     cid.Cid
	Size    int64
	Verdict Verdict
	Why     Why
	Reason  string
	// DeadSince is when the block was first seen dead (Wait and Delete).
	DeadSince time.Time
	// NotBefore is when it may go: DeadSince plus the grace period (Wait
	// and Delete).
	NotBefore time.Time
}

func (d Decision) String() string {
	return fmt.Sprintf("%s %s (%d bytes): %s", d.Verdict, d.CID, d.Size, d.Reason)
}

// Decide judges block c of size bytes at now. deadSince is when an earlier
// pass first found it dead (the zero Time if none did: it is first seen
// dead now). Checks run from the most protective: an untrusted or
// incomplete live set, a foreign CID, a pin, the live set, a lease; only
// a block none of them keeps is dead, and it is deleted once
// now >= deadSince + Grace.
//
// Decide is also the recheck a holder runs on each block just before
// deleting it, under the lock that serializes deletes with pushes (rule
// H4), with the state and leases as they are then.
func (p *Policy) Decide(c cid.Cid, size int64, deadSince, now time.Time) Decision {
	return p.decide(c, size, deadSince, now, p.describe(), true)
}

// decide is Decide with the live set's description made once per pass; a
// Keep gets its Reason only if keepReasons.
func (p *Policy) decide(c cid.Cid, size int64, deadSince, now time.Time, desc string, keepReasons bool) Decision {
	k, ok := keyOf(c)
	keep := func(why Why, reason, more string) Decision {
		d := Decision{CID: c, Size: size, Why: why}
		if keepReasons {
			d.Reason = reason + more
		}
		return d
	}
	switch {
	case p.Live == nil:
		return keep(WhyUntrusted, "no trusted live set: nothing is collected", "")
	case !ok:
		return keep(WhyForeign, "not a CID meshfs stores: never collected", "")
	}
	if cp, ok := p.Live.(completer); ok && !cp.Complete() {
		return keep(WhyUntrusted, "the live set is incomplete: nothing is collected", "")
	}
	if p.Pins != nil && mayBeLive(p.Pins, k) {
		return keep(WhyPinned, "pinned", "")
	}
	if mayBeLive(p.Live, k) {
		return keep(WhyLive, "live: in ", desc)
	}
	if p.Leases != nil {
		if ok, why := p.Leases.protects(k, now.UnixNano(), p.Index); ok {
			return keep(WhyLeased, "write in flight: ", why)
		}
	}
	if deadSince.IsZero() {
		deadSince = now
	}
	d := Decision{CID: c, Size: size, Why: WhyDead, DeadSince: deadSince, NotBefore: deadSince.Add(max(p.Grace, 0))}
	since := "dead: not in " + desc + " since " + deadSince.UTC().Format(time.RFC3339)
	if now.Before(d.NotBefore) {
		d.Verdict = Wait
		d.Reason = since + ", may go at " + d.NotBefore.UTC().Format(time.RFC3339)
	} else {
		d.Verdict = Delete
		d.Reason = since + ", grace period over"
	}
	return d
}

// keyTester is the ability of this package's live sets to test a digest
// without making a multihash of it.
type keyTester interface{ hasKeyMaybe(k key) bool }

var (
	_ keyTester = (*Summary)(nil)
	_ keyTester = (*Live)(nil)
)

func mayBeLive(s LiveSet, k key) bool {
	if t, ok := s.(keyTester); ok {
		return t.hasKeyMaybe(k)
	}
	return s.MayBeLive(k.multihash())
}

func (p *Policy) describe() string {
	if p.Live == nil {
		return ""
	}
	return describe(p.Live)
}

func describe(s LiveSet) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return "the live set"
}

// Held is a block a holder holds, as [Policy.Sweep] takes it.
type Held struct {
	CID  cid.Cid
	Size int64
}

// Tally counts blocks and their bytes.
type Tally struct {
	Blocks int64
	Bytes  int64
}

func (t *Tally) add(size int64) { t.Blocks++; t.Bytes += size }

// Report is one pass's outcome: the decisions on dead blocks (to delete or
// waiting), and a tally of every block by reason, for `meshfs status`,
// `/metrics` and `gc --dry-run`.
type Report struct {
	// Dead holds the Wait and Delete decisions, in the order the blocks
	// were given.
	Dead []Decision
	// By counts every block by the reason it got.
	By map[Why]Tally
	// Waiting and Deletable count the dead blocks by verdict.
	Waiting, Deletable Tally
}

// ToDelete returns the CIDs of the blocks the pass would delete.
func (r Report) ToDelete() []cid.Cid {
	var out []cid.Cid
	for _, d := range r.Dead {
		if d.Verdict == Delete {
			out = append(out, d.CID)
		}
	}
	return out
}

// Sweep runs one collection pass over the blocks held at now: it decides
// each ([Policy.Decide]) with the time prev says it was first seen dead,
// and returns the report and the next state, which records exactly the
// blocks found dead in this pass (a block found protected, or not held any
// more, is forgotten, so its clock restarts if it is found dead again).
// prev may be nil. Sweep deletes nothing and does not change prev.
func (p *Policy) Sweep(now time.Time, held iter.Seq[Held], prev *DeadSince) (Report, *DeadSince, error) {
	if p.Grace < 0 {
		return Report{}, nil, invalid("grace period %v", p.Grace)
	}
	if now.UnixNano() <= 0 {
		return Report{}, nil, invalid("time %v before 1970", now)
	}
	r := Report{By: make(map[Why]Tally)}
	next := NewDeadSince()
	desc := p.describe()
	for h := range held {
		var since time.Time
		k, ok := keyOf(h.CID)
		if ok && prev != nil {
			since = prev.get(k)
		}
		d := p.decide(h.CID, h.Size, since, now, desc, false)
		t := r.By[d.Why]
		t.add(h.Size)
		r.By[d.Why] = t
		if d.Why != WhyDead {
			continue
		}
		if old, ok := next.m[k]; !ok || d.DeadSince.UnixNano() < old {
			next.m[k] = d.DeadSince.UnixNano()
		}
		r.Dead = append(r.Dead, d)
		if d.Verdict == Delete {
			r.Deletable.add(h.Size)
		} else {
			r.Waiting.add(h.Size)
		}
	}
	return r, next, nil
}
