package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// hist builds histories for the model's tests: times in milliseconds,
// paths relative to folder d0 of the key space (d1/... for folder d1).
type hist struct{ t0 time.Time }

var testKeys = keySpace{Root: "/chaos", Dirs: 2, Names: 3}

func (h hist) at(ms int) time.Time { return h.t0.Add(time.Duration(ms) * time.Millisecond) }

// abs makes p absolute: in folder d0 unless it starts with d0/ or d1/.
func abs(p string) string {
	if strings.HasPrefix(p, "d0/") || strings.HasPrefix(p, "d1/") {
		return "/chaos/" + p
	}
	return "/chaos/d0/" + p
}

// op is an operation of client c on p from..to; res is the error kind an
// ok answer carries ("" for success), or the read's value.
func (h hist) op(c int, k Kind, p string, from, to int, o Outcome, res string) Op {
	op := Op{Client: c, Kind: k, Path: abs(p), Invoke: h.at(from), Return: h.at(to), Outcome: o}
	if k == List {
		op.Path = "/chaos/" + p
	}
	switch {
	case o != OK:
	case (k == Read || k == List) && !observed[res]:
		op.Value = res
	default:
		op.Result = res
	}
	return op
}

func (h hist) write(c int, p, v string, from, to int, o Outcome) Op {
	op := h.op(c, Write, p, from, to, o, "")
	op.Value = v
	return op
}

func (h hist) writeErr(c int, p, v, res string, from, to int) Op {
	op := h.op(c, Write, p, from, to, OK, res)
	op.Value = v
	return op
}

func (h hist) append(c int, p, v string, from, to int, o Outcome, res string) Op {
	op := h.op(c, Append, p, from, to, o, res)
	op.Value = v
	return op
}

func (h hist) read(c int, p, v string, from, to int) Op { return h.op(c, Read, p, from, to, OK, v) }

func (h hist) mv(c int, p, q string, from, to int, o Outcome, res string) Op {
	op := h.op(c, Rename, p, from, to, o, res)
	op.To = abs(q)
	return op
}

// TestFSModel: for each kind, the checker accepts what the namespace
// allows (unknown outcomes included) and catches what it does not.
func TestFSModel(t *testing.T) {
	h := hist{t0: time.Unix(1000, 0)}
	ok, bad := porcupine.Ok, porcupine.Illegal
	for _, tc := range []struct {
		name string
		ops  []Op
		want porcupine.CheckResult
	}{
		// write and read: a register per file.
		{"write then read", []Op{h.write(0, "a", "v", 0, 10, OK), h.read(1, "a", "v", 20, 30)}, ok},
		{"concurrent read sees either", []Op{h.write(0, "a", "v", 0, 10, OK), h.write(0, "a", "w", 20, 40, OK), h.read(1, "a", "v", 25, 30)}, ok},
		{"stale read", []Op{h.write(0, "a", "v", 0, 10, OK), h.write(0, "a", "w", 20, 30, OK), h.read(1, "a", "v", 40, 50)}, bad},
		{"lost write", []Op{h.write(0, "a", "v", 0, 10, OK), h.read(1, "a", "notexist", 20, 30)}, bad},
		{"never written", []Op{h.write(0, "a", "v", 0, 10, OK), h.read(1, "a", "z", 20, 30)}, bad},
		{"unknown write seen late", []Op{h.write(0, "a", "v", 0, 10, OK), h.write(0, "a", "w", 20, 30, Unknown), h.read(1, "a", "v", 40, 50), h.read(1, "a", "w", 60, 70)}, ok},
		{"unknown write never seen", []Op{h.write(0, "a", "w", 0, 10, Unknown), h.read(1, "a", "notexist", 40, 50)}, ok},
		{"failed write never seen", []Op{h.write(0, "a", "v", 0, 10, OK), h.write(0, "a", "w", 20, 30, Failed), h.read(1, "a", "v", 40, 50)}, ok},
		{"failed write seen", []Op{h.write(0, "a", "w", 20, 30, Failed), h.read(1, "a", "w", 40, 50)}, bad},
		{"write under a missing folder", []Op{h.writeErr(0, "a/x", "v", "notexist", 0, 10)}, ok},
		{"write under a missing folder acknowledged", []Op{h.write(0, "a/x", "v", 0, 10, OK)}, bad},
		{"write under a file", []Op{h.write(0, "a", "v", 0, 10, OK), h.writeErr(0, "a/x", "v", "notdir", 20, 30)}, ok},

		// append.
		{"append", []Op{h.write(0, "a", "v", 0, 10, OK), h.append(0, "a", "+1", 20, 30, OK, ""), h.read(1, "a", "v+1", 40, 50)}, ok},
		{"acknowledged append lost", []Op{h.write(0, "a", "v", 0, 10, OK), h.append(0, "a", "+1", 20, 30, OK, ""), h.read(1, "a", "v", 40, 50)}, bad},
		{"append to a missing file", []Op{h.append(0, "a", "+1", 0, 10, OK, "notexist"), h.read(1, "a", "notexist", 20, 30)}, ok},
		{"append to a missing file acknowledged", []Op{h.append(0, "a", "+1", 0, 10, OK, "")}, bad},
		{"append to a folder", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.append(0, "a", "+1", 20, 30, OK, "isdir")}, ok},
		{"concurrent appends in either order", []Op{h.write(0, "a", "v", 0, 10, OK), h.append(0, "a", "+1", 20, 40, OK, ""), h.append(1, "a", "+2", 20, 40, OK, ""), h.read(2, "a", "v+2+1", 50, 60)}, ok},
		{"appends out of real-time order", []Op{h.write(0, "a", "v", 0, 10, OK), h.append(0, "a", "+1", 20, 30, OK, ""), h.append(1, "a", "+2", 40, 50, OK, ""), h.read(2, "a", "v+2+1", 60, 70)}, bad},
		{"unknown append seen late", []Op{h.write(0, "a", "v", 0, 10, OK), h.append(0, "a", "+1", 20, 30, Unknown, ""), h.read(1, "a", "v", 40, 50), h.read(1, "a", "v+1", 60, 70)}, ok},
		{"unknown append applied twice", []Op{h.write(0, "a", "v", 0, 10, OK), h.append(0, "a", "+1", 20, 30, Unknown, ""), h.read(1, "a", "v+1+1", 40, 50)}, bad},
		{"failed append seen", []Op{h.write(0, "a", "v", 0, 10, OK), h.append(0, "a", "+1", 20, 30, Failed, ""), h.read(1, "a", "v+1", 40, 50)}, bad},

		// mkdir.
		{"mkdir twice", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.op(1, Mkdir, "a", 20, 30, OK, "exist")}, ok},
		{"mkdir twice acknowledged", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.op(1, Mkdir, "a", 20, 30, OK, "")}, bad},
		{"mkdir over a file", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(1, Mkdir, "a", 20, 30, OK, "exist"), h.read(1, "a", "v", 40, 50)}, ok},
		{"write to a folder", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.writeErr(1, "a", "v", "isdir", 20, 30), h.read(1, "a", "isdir", 40, 50)}, ok},
		{"write to a folder acknowledged", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.write(1, "a", "v", 20, 30, OK)}, bad},
		{"unknown mkdir took effect", []Op{h.op(0, Mkdir, "a", 0, 10, Unknown, ""), h.op(1, Mkdir, "a", 20, 30, OK, "exist"), h.op(1, List, "d0", 40, 50, OK, "a:d0")}, ok},
		{"unknown mkdir did not", []Op{h.op(0, Mkdir, "a", 0, 10, Unknown, ""), h.op(1, List, "d0", 40, 50, OK, "")}, ok},
		{"mkdir under a file", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(1, Mkdir, "a/x", 20, 30, OK, "notdir")}, ok},
		{"mkdir under a file acknowledged", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(1, Mkdir, "a/x", 20, 30, OK, "")}, bad},

		// rename.
		{"rename", []Op{h.write(0, "a", "v", 0, 10, OK), h.mv(0, "a", "b", 20, 30, OK, ""), h.read(1, "b", "v", 40, 50), h.read(1, "a", "notexist", 60, 70)}, ok},
		{"source still there after rename", []Op{h.write(0, "a", "v", 0, 10, OK), h.mv(0, "a", "b", 20, 30, OK, ""), h.read(1, "a", "v", 40, 50)}, bad},
		{"rename replaces a file", []Op{h.write(0, "a", "1", 0, 10, OK), h.write(0, "b", "2", 0, 10, OK), h.mv(0, "a", "b", 20, 30, OK, ""), h.read(1, "b", "1", 40, 50)}, ok},
		{"replaced file still there", []Op{h.write(0, "a", "1", 0, 10, OK), h.write(0, "b", "2", 0, 10, OK), h.mv(0, "a", "b", 20, 30, OK, ""), h.read(1, "b", "2", 40, 50)}, bad},
		{"rename of a missing name", []Op{h.mv(0, "a", "b", 0, 10, OK, "notexist")}, ok},
		{"rename of a missing name acknowledged", []Op{h.mv(0, "a", "b", 0, 10, OK, "")}, bad},
		{"rename of a file onto a folder", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Mkdir, "b", 0, 10, OK, ""), h.mv(0, "a", "b", 20, 30, OK, "isdir")}, ok},
		{"rename of a folder onto a file", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Mkdir, "b", 0, 10, OK, ""), h.mv(0, "b", "a", 20, 30, OK, "notdir")}, ok},
		{"rename onto a full folder", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.op(0, Mkdir, "b", 0, 10, OK, ""), h.write(0, "b/x", "v", 20, 30, OK), h.mv(0, "a", "b", 40, 50, OK, "notempty")}, ok},
		{"rename onto a full folder acknowledged", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.op(0, Mkdir, "b", 0, 10, OK, ""), h.write(0, "b/x", "v", 20, 30, OK), h.mv(0, "a", "b", 40, 50, OK, "")}, bad},
		{"rename of a folder takes its x", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.write(0, "a/x", "v", 20, 30, OK), h.mv(0, "a", "c", 40, 50, OK, ""), h.read(1, "c/x", "v", 60, 70), h.read(1, "a/x", "notexist", 60, 70)}, ok},
		{"x left behind", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.write(0, "a/x", "v", 20, 30, OK), h.mv(0, "a", "c", 40, 50, OK, ""), h.read(1, "a/x", "v", 60, 70)}, bad},
		{"x onto its own folder", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.write(0, "a/x", "v", 20, 30, OK), h.mv(0, "a/x", "a", 40, 50, OK, "isdir")}, ok},
		{"x out to a top name", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.write(0, "a/x", "v", 20, 30, OK), h.mv(0, "a/x", "b", 40, 50, OK, ""), h.op(1, List, "d0", 60, 70, OK, "a:d0,b:f1")}, ok},
		{"unknown rename seen late", []Op{h.write(0, "a", "v", 0, 10, OK), h.mv(0, "a", "b", 20, 30, Unknown, ""), h.read(1, "a", "v", 40, 50), h.read(1, "b", "v", 60, 70), h.read(1, "a", "notexist", 80, 90)}, ok},
		{"renamed file comes back", []Op{h.write(0, "a", "v", 0, 10, OK), h.mv(0, "a", "b", 20, 30, Unknown, ""), h.read(1, "b", "v", 40, 50), h.read(1, "a", "v", 60, 70)}, bad},

		// rm.
		{"rm", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Remove, "a", 20, 30, OK, ""), h.read(1, "a", "notexist", 40, 50)}, ok},
		{"read after rm returns the old content", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Remove, "a", 20, 30, OK, ""), h.read(1, "a", "v", 40, 50)}, bad},
		{"rm of a missing file", []Op{h.op(0, Remove, "a", 0, 10, OK, "notexist")}, ok},
		{"rm of a missing file acknowledged", []Op{h.op(0, Remove, "a", 0, 10, OK, "")}, bad},
		{"rm of an existing file says notexist", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Remove, "a", 20, 30, OK, "notexist")}, bad},
		{"rm of a full folder", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.write(0, "a/x", "v", 20, 30, OK), h.op(1, Remove, "a", 40, 50, OK, "notempty"), h.read(1, "a/x", "v", 60, 70)}, ok},
		{"rm of a full folder acknowledged", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.write(0, "a/x", "v", 20, 30, OK), h.op(1, Remove, "a", 40, 50, OK, "")}, bad},
		{"rm of an empty folder", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.op(1, Remove, "a", 20, 30, OK, ""), h.op(1, List, "d0", 40, 50, OK, "")}, ok},
		{"unknown rm seen late", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Remove, "a", 20, 30, Unknown, ""), h.read(1, "a", "v", 40, 50), h.read(1, "a", "notexist", 60, 70)}, ok},
		{"removed file comes back", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Remove, "a", 20, 30, Unknown, ""), h.read(1, "a", "notexist", 40, 50), h.read(1, "a", "v", 60, 70)}, bad},
		{"rm says notdir of a file (a folder between its two steps)", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Remove, "a", 20, 30, OK, "notdir"), h.read(1, "a", "v", 40, 50)}, ok},
		{"rm says notdir of a folder", []Op{h.op(0, Mkdir, "a", 0, 10, OK, ""), h.op(0, Remove, "a", 20, 30, OK, "notdir")}, bad},

		// ls.
		{"ls", []Op{h.write(0, "a", "vv", 0, 10, OK), h.op(0, Mkdir, "b", 0, 10, OK, ""), h.write(0, "b/x", "v", 20, 30, OK), h.op(1, List, "d0", 40, 50, OK, "a:f2,b:d1")}, ok},
		{"ls misses a name", []Op{h.write(0, "a", "vv", 0, 10, OK), h.op(0, Mkdir, "b", 0, 10, OK, ""), h.op(1, List, "d0", 40, 50, OK, "a:f2")}, bad},
		{"ls shows a removed name", []Op{h.write(0, "a", "v", 0, 10, OK), h.op(0, Remove, "a", 20, 30, OK, ""), h.op(1, List, "d0", 40, 50, OK, "a:f1")}, bad},
		{"ls shows a stale size", []Op{h.write(0, "a", "v", 0, 10, OK), h.append(0, "a", "+1", 20, 30, OK, ""), h.op(1, List, "d0", 40, 50, OK, "a:f1")}, bad},
		{"ls during an unknown rename", []Op{h.write(0, "a", "v", 0, 10, OK), h.mv(0, "a", "c", 20, 30, Unknown, ""), h.op(1, List, "d0", 40, 50, OK, "a:f1"), h.op(1, List, "d0", 60, 70, OK, "c:f1")}, ok},

		// folders are apart.
		{"other folders apart", []Op{h.write(0, "a", "v", 0, 10, OK), h.read(1, "d1/a", "notexist", 20, 30), h.op(1, List, "d1", 20, 30, OK, "")}, ok},
		{"a change shows in another folder", []Op{h.write(0, "a", "v", 0, 10, OK), h.read(1, "d1/a", "v", 20, 30)}, bad},
	} {
		ops, err := operations(tc.ops, testKeys, h.t0.UnixNano())
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := porcupine.CheckOperationsTimeout(fsModel, ops, time.Minute)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestOperationsRefuse: a history the model cannot express is an error,
// not a verdict.
func TestOperationsRefuse(t *testing.T) {
	h := hist{t0: time.Unix(1000, 0)}
	for _, op := range []Op{
		h.mv(0, "a", "b/x", 0, 10, OK, ""),   // a top name to an x
		h.mv(0, "a", "d1/a", 0, 10, OK, ""),  // across folders
		h.read(0, "d0/e", "v", 0, 10),        // a name outside the key space
		{Kind: Read, Path: "/other/a"},       // outside the root
		{Kind: List, Path: "/chaos/d0/a"},    // ls of a name
		{Kind: Write, Path: "/chaos/d0"},     // a write of a folder of the key space
		{Kind: Read, Path: "/chaos/d7/a"},    // no such folder
		{Kind: Rename, Path: "/chaos/d0/a"},  // no target
		{Kind: Mkdir, Path: "/chaos/d0/a/y"}, // no such name
	} {
		if _, err := operations([]Op{op}, testKeys, h.t0.UnixNano()); err == nil {
			t.Errorf("%s %s %s: no error", op.Kind, op.Path, op.To)
		}
	}
}

// TestClassify: error kinds the model predicts are answers; timeouts and
// server errors leave the outcome open; the rest are refusals.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   string
		err    error
		want   Outcome
		result string
	}{
		{200, "", nil, OK, ""},
		{404, "notexist", nil, OK, "notexist"},
		{409, "exist", nil, OK, "exist"},
		{409, "notempty", nil, OK, "notempty"},
		{409, "notdir", nil, OK, "notdir"},
		{409, "isdir", nil, OK, "isdir"},
		{400, "invalid", nil, OK, "invalid"},
		{409, "conflict", nil, Failed, ""},
		{404, "", nil, Failed, ""}, // a block not found: no change was made
		{503, "nowriter", nil, Failed, ""},
		{403, "notallowed", nil, Failed, ""},
		{504, "unknown", nil, Unknown, ""},
		{504, "", nil, Unknown, ""},
		{500, "", nil, Unknown, ""},
		{0, "", errors.New("timeout"), Unknown, ""},
	} {
		o, res, _ := classify(tc.status, tc.kind, tc.err)
		if o != tc.want || res != tc.result {
			t.Errorf("%d %q %v: %s %q, want %s %q", tc.status, tc.kind, tc.err, o, res, tc.want, tc.result)
		}
	}
	got, err := listing([]byte(`{"path":"/chaos/d0","entries":[{"name":"a","kind":"file","size":3},{"name":"b","kind":"dir","size":1}]}`))
	if err != nil || got != "a:f3,b:d1" {
		t.Errorf("listing: %q %v", got, err)
	}
}

// TestBudget: every fault the nemesis plans leaves a majority of voters up
// and talking; more is refused.
func TestBudget(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    fault
		ok   bool
	}{
		{"one voter down", fault{down: []int{1}, bridged: -1}, true},
		{"a non-voter cut off", fault{cut: true, sides: [2][]int{{4}, {0, 1, 2, 3}}, bridged: -1}, true},
		{"halves 2|1 voters", fault{cut: true, sides: [2][]int{{0, 3}, {1, 2, 4}}, bridged: -1}, true},
		{"bridge through a voter", fault{cut: true, sides: [2][]int{{0, 3}, {2, 4}}, bridged: 1}, true},
		{"bridge through a non-voter", fault{cut: true, sides: [2][]int{{0}, {1, 2, 3}}, bridged: 4}, true},
		{"two voters down", fault{down: []int{0, 2}, bridged: -1}, false},
		{"voters 1|1|1", fault{cut: true, sides: [2][]int{{0}, {1}}, bridged: -1, down: []int{2}}, false},
	} {
		if err := withinBudget(3, tc.f); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestWritersPerTerm: the log check finds a term claimed by two peers.
func TestWritersPerTerm(t *testing.T) {
	dir := t.TempDir()
	logs := map[int]string{}
	for peer, text := range map[int]string{
		0: "x\n2026-11-26T15:00:00Z namespace: writer for term 2\nnamespace: writer for term 5\n",
		1: "namespace: writer for term 3\n",
		2: "namespace: writer for term 5\n",
	} {
		logs[peer] = filepath.Join(dir, fmt.Sprint(peer))
		if err := os.WriteFile(logs[peer], []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	terms, err := writersPerTerm(logs)
	if err != nil {
		t.Fatal(err)
	}
	if len(terms) != 3 || len(terms[2]) != 1 || len(terms[3]) != 1 || len(terms[5]) != 2 {
		t.Fatalf("writers per term: %v", terms)
	}
}
