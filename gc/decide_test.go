package gc_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
	"meshfs/gc"
)

// exact is a LiveSet of the given CIDs' digests.
type exact map[string]bool

func exactOf(cs ...cid.Cid) exact {
	e := exact{}
	for _, c := range cs {
		e[string(c.Hash())] = true
	}
	return e
}

func (e exact) MayBeLive(m mh.Multihash) bool { return e[string(m)] }

func TestDecide(t *testing.T) {
	r := testRand(t)
	live, pinned, leased, released, dead := randomCID(r, content.CodecRaw), randomCID(r, content.CodecDagPB),
		randomCID(r, content.CodecRaw), randomCID(r, content.CodecRaw), randomCID(r, content.CodecRaw)
	v0, _ := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	leases := gc.NewLeases()
	must(t, leases.Add([]cid.Cid{leased}, t0.Add(time.Minute)))
	must(t, leases.Release([]cid.Cid{released}, 20))
	grace := time.Hour
	policy := gc.Policy{Live: exactOf(live), Index: 10, Pins: exactOf(pinned), Leases: leases, Grace: grace}
	incomplete := newStore()
	f := newFile(t, incomplete, 1, 20, 16, 3)
	incomplete.delete(f.nodes[0].CID())
	tests := []struct {
		name      string
		p         gc.Policy
		c         cid.Cid
		deadSince time.Time
		now       time.Time
		verdict   gc.Verdict
		why       gc.Why
		notBefore time.Time
	}{
		{"no live set", gc.Policy{Grace: grace}, dead, t0.Add(-48 * time.Hour), t0, gc.Keep, gc.WhyUntrusted, time.Time{}},
		{"incomplete live set", gc.Policy{Live: mark(t, incomplete, []cid.Cid{f.root}, nil, gc.MarkOptions{})}, dead, t0.Add(-48 * time.Hour), t0, gc.Keep, gc.WhyUntrusted, time.Time{}},
		{"foreign CID", policy, v0, t0.Add(-48 * time.Hour), t0, gc.Keep, gc.WhyForeign, time.Time{}},
		{"pinned", policy, pinned, t0.Add(-48 * time.Hour), t0, gc.Keep, gc.WhyPinned, time.Time{}},
		{"live", policy, live, t0.Add(-48 * time.Hour), t0, gc.Keep, gc.WhyLive, time.Time{}},
		{"live under the other codec", policy, cid.NewCidV1(content.CodecDagPB, live.Hash()), time.Time{}, t0, gc.Keep, gc.WhyLive, time.Time{}},
		{"leased", policy, leased, t0.Add(-48 * time.Hour), t0, gc.Keep, gc.WhyLeased, time.Time{}},
		{"lease expired", policy, leased, time.Time{}, t0.Add(time.Minute), gc.Wait, gc.WhyDead, t0.Add(time.Minute + grace)},
		{"released above the summary", policy, released, t0.Add(-48 * time.Hour), t0, gc.Keep, gc.WhyLeased, time.Time{}},
		{"released and covered", func() gc.Policy { p := policy; p.Index = 20; return p }(), released, t0.Add(-48 * time.Hour), t0, gc.Delete, gc.WhyDead, t0.Add(-47 * time.Hour)},
		{"first seen dead", policy, dead, time.Time{}, t0, gc.Wait, gc.WhyDead, t0.Add(grace)},
		{"dead, in grace", policy, dead, t0.Add(-59 * time.Minute), t0, gc.Wait, gc.WhyDead, t0.Add(time.Minute)},
		{"dead, grace just over", policy, dead, t0.Add(-grace), t0, gc.Delete, gc.WhyDead, t0},
		{"dead since a future time", policy, dead, t0.Add(time.Hour), t0, gc.Wait, gc.WhyDead, t0.Add(2 * time.Hour)},
		{"no grace", func() gc.Policy { p := policy; p.Grace = 0; return p }(), dead, time.Time{}, t0, gc.Delete, gc.WhyDead, t0},
		{"no leases table", gc.Policy{Live: exactOf(live), Grace: grace}, leased, t0.Add(-grace), t0, gc.Delete, gc.WhyDead, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.p.Decide(tt.c, 77, tt.deadSince, tt.now)
			if d.Verdict != tt.verdict || d.Why != tt.why || !d.NotBefore.Equal(tt.notBefore) || d.Reason == "" {
				t.Errorf("Decide = %+v, want %v %v not before %v", d, tt.verdict, tt.why, tt.notBefore)
			}
			if !d.CID.Equals(tt.c) || d.Size != 77 {
				t.Errorf("Decide names %s (%d bytes)", d.CID, d.Size)
			}
			if d.Verdict != gc.Keep && d.DeadSince.IsZero() {
				t.Error("a dead block without DeadSince")
			}
			t.Log(d)
		})
	}
}

func TestSweepKeepsStateAcrossPasses(t *testing.T) {
	r := testRand(t)
	var blocks []cid.Cid
	for range 6 {
		blocks = append(blocks, randomCID(r, content.CodecRaw))
	}
	liveC, pinnedC, leasedC := blocks[0], blocks[1], blocks[2]
	dead := blocks[3:]
	leases := gc.NewLeases()
	must(t, leases.Add([]cid.Cid{leasedC}, t0.Add(90*time.Minute)))
	p := gc.Policy{Live: exactOf(liveC), Index: 1, Pins: exactOf(pinnedC), Leases: leases, Grace: time.Hour}
	held := func(cs ...cid.Cid) func(func(gc.Held) bool) {
		return func(yield func(gc.Held) bool) {
			for i, c := range cs {
				if !yield(gc.Held{CID: c, Size: int64(100 * (i + 1))}) {
					return
				}
			}
		}
	}

	// Pass 1: three dead blocks are first seen dead.
	rep, st, err := p.Sweep(t0, held(blocks...), nil)
	must(t, err)
	if len(rep.Dead) != 3 || rep.Waiting.Blocks != 3 || rep.Deletable.Blocks != 0 || st.Len() != 3 {
		t.Fatalf("pass 1: %+v, state %d", rep, st.Len())
	}
	if got := rep.By[gc.WhyLive]; got != (gc.Tally{Blocks: 1, Bytes: 100}) {
		t.Errorf("live tally %+v", got)
	}
	if rep.By[gc.WhyPinned].Bytes != 200 || rep.By[gc.WhyLeased].Bytes != 300 || rep.Waiting.Bytes != 400+500+600 {
		t.Errorf("tallies %+v waiting %+v", rep.By, rep.Waiting)
	}
	st = roundTripDead(t, st)

	// Pass 2, 30 min later: dead[0] is not held any more (forgotten),
	// dead[1] became live (forgotten), dead[2] still waits from t0.
	p2 := p
	p2.Live = exactOf(liveC, dead[1])
	rep, st2, err := p2.Sweep(t0.Add(30*time.Minute), held(liveC, pinnedC, leasedC, dead[1], dead[2]), st)
	must(t, err)
	if len(rep.Dead) != 1 || !rep.Dead[0].DeadSince.Equal(t0) || rep.Dead[0].Verdict != gc.Wait {
		t.Fatalf("pass 2: %+v", rep.Dead)
	}
	if st2.Len() != 1 || st.Len() != 3 {
		t.Errorf("state %d after pass 2, %d before (must not change)", st2.Len(), st.Len())
	}

	// Pass 3, t0+1h: dead[2]'s grace is over; dead[1] is dead again,
	// its clock restarted; the lease still holds.
	rep, st3, err := p.Sweep(t0.Add(time.Hour), held(blocks[1:]...), st2)
	must(t, err)
	got := map[cid.Cid]gc.Decision{}
	for _, d := range rep.Dead {
		got[d.CID] = d
	}
	if d := got[dead[2]]; d.Verdict != gc.Delete {
		t.Errorf("dead[2]: %+v", d)
	}
	if d := got[dead[1]]; d.Verdict != gc.Wait || !d.DeadSince.Equal(t0.Add(time.Hour)) {
		t.Errorf("dead[1]: %+v", d)
	}
	if del := rep.ToDelete(); len(del) != 1 || !del[0].Equals(dead[2]) {
		t.Errorf("ToDelete = %v", del)
	}
	if rep.Deletable != (gc.Tally{Blocks: 1, Bytes: 500}) {
		t.Errorf("deletable %+v", rep.Deletable)
	}

	// Pass 4, t0+2h: the lease expired at t0+90min and the block is first
	// seen dead now, so its grace starts now, not at expiry.
	rep, _, err = p.Sweep(t0.Add(2*time.Hour), held(leasedC), st3)
	must(t, err)
	if len(rep.Dead) != 1 || rep.Dead[0].Verdict != gc.Wait || !rep.Dead[0].NotBefore.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("pass 4: %+v", rep.Dead)
	}

	// A lost state only delays: every dead block starts over.
	rep, _, err = p.Sweep(t0.Add(time.Hour), held(dead[2]), nil)
	must(t, err)
	if rep.Dead[0].Verdict != gc.Wait {
		t.Errorf("without state: %+v", rep.Dead[0])
	}

	if _, _, err := (&gc.Policy{Grace: -1}).Sweep(t0, held(), nil); err == nil {
		t.Error("negative grace accepted")
	}
	if _, _, err := p.Sweep(time.Time{}, held(), nil); err == nil {
		t.Error("zero time accepted")
	}
}

func roundTripDead(t *testing.T, d *gc.DeadSince) *gc.DeadSince {
	t.Helper()
	dec, err := gc.DecodeDeadSince(d.Encode())
	must(t, err)
	if dec.Len() != d.Len() || string(dec.Encode()) != string(d.Encode()) {
		t.Fatal("state does not round-trip")
	}
	return dec
}

func TestSweepWithASummary(t *testing.T) {
	s := newStore()
	old := newFile(t, s, 1, 30, 32, 4)
	cur := newFile(t, s, 2, 30, 32, 4)
	d, _ := dir(t, s, cur)
	live := mark(t, s, []cid.Cid{d}, nil, gc.MarkOptions{})
	sum, err := gc.NewSummary(live, cover1(d), 0.01)
	must(t, err)
	held := slices.Concat(old.cids(), cur.cids(), []cid.Cid{d})
	p := gc.Policy{Live: sum, Index: sum.Index(), Grace: time.Minute}
	rep, st, err := p.Sweep(t0, slices.Values(heldOf(held)), nil)
	must(t, err)
	rep, _, err = p.Sweep(t0.Add(time.Minute), slices.Values(heldOf(held)), st)
	must(t, err)
	gone := cidSet(rep.ToDelete())
	for _, c := range append(cur.cids(), d) {
		if gone[c] {
			t.Errorf("live %s deleted", c)
		}
	}
	// Every old block goes, bar the summary's false positives.
	if len(gone) < len(old.cids())*9/10 {
		t.Errorf("%d of %d dead blocks deletable", len(gone), len(old.cids()))
	}
	for _, dd := range rep.Dead {
		if !strings.Contains(dd.Reason, "summary of \"meshfs\" at 2/40") {
			t.Errorf("reason %q", dd.Reason)
		}
	}
}

func heldOf(cs []cid.Cid) []gc.Held {
	var out []gc.Held
	for _, c := range cs {
		out = append(out, gc.Held{CID: c, Size: 1})
	}
	return out
}

func TestConfig(t *testing.T) {
	if err := gc.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*gc.Config){
		"K 0":        func(c *gc.Config) { c.Roots = 0 },
		"K too many": func(c *gc.Config) { c.Roots = gc.MaxCoverRoots + 1 },
		"rate 0":     func(c *gc.Config) { c.FPRate = 0 },
		"rate 1":     func(c *gc.Config) { c.FPRate = 1 },
		"no grace":   func(c *gc.Config) { c.Grace = 0 },
		"no lease":   func(c *gc.Config) { c.LeaseTTL = -time.Second },
	} {
		c := gc.DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}
