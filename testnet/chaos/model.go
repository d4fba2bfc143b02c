package chaos

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// The model and its partition.
//
// The workload works in a small tree (keySpace): Dirs folders under Root,
// made before any fault and never changed by the workload itself; in each,
// the names a, b, c... (files, folders or nothing) and, in each of those
// that is a folder, the name x. Every operation stays inside one of the
// folders: a rename moves within it, an ls lists it. So the folders are
// independent objects and the history is checked one folder at a time
// (porcupine's P-compositionality), the model's state being the whole of
// one folder. A per-path partition would be wrong now: a rename changes
// two paths at once, an ls observes all of them, and rm or rename of a
// folder moves or removes what is below it. One partition for the whole
// tree would be right but slow: each unknown operation stays open to the
// end of the history, and the search's frontier grows with the unknown
// operations of its partition, so more folders (Config.Dirs) keep it fast.
//
// Depth is bounded so a folder's state is a fixed array: x is the only
// name below the top, the workload never renames a top name to an x (that
// could put a folder holding an x at an x), and nothing is made below an x
// (a folder at an x stays empty).

// maxNames bounds the names in a folder of the key space.
const maxNames = 4

// childName is the name made inside a top name that is a folder.
const childName = "x"

// keySpace names the workload's paths.
type keySpace struct {
	Root  string // "/chaos"
	Dirs  int    // folders Root/d0, Root/d1, ...
	Names int    // names a, b, ... in each (at most maxNames)
}

// dir returns folder j's path.
func (k keySpace) dir(j int) string { return fmt.Sprintf("%s/d%d", k.Root, j) }

// slotName is slot's path inside its folder: a top name (slot <
// maxNames) or the x inside one (slot maxNames+i is inside name i).
func slotName(slot int) string {
	if slot < maxNames {
		return string(rune('a' + slot))
	}
	return string(rune('a'+slot-maxNames)) + "/" + childName
}

// path returns slot's path in folder j.
func (k keySpace) path(j, slot int) string { return k.dir(j) + "/" + slotName(slot) }

// slots returns the slots in use: the top names, then their x.
func (k keySpace) slots() []int {
	var out []int
	for i := range k.Names {
		out = append(out, i)
	}
	for i := range k.Names {
		out = append(out, maxNames+i)
	}
	return out
}

// locate returns the folder and slot of p; slot is -1 for the folder
// itself.
func (k keySpace) locate(p string) (dir, slot int, err error) {
	rest, ok := strings.CutPrefix(p, k.Root+"/d")
	if !ok {
		return 0, 0, fmt.Errorf("path %q is outside %s", p, k.Root)
	}
	num, name, _ := strings.Cut(rest, "/")
	dir, err = strconv.Atoi(num)
	if err != nil || dir < 0 || dir >= k.Dirs {
		return 0, 0, fmt.Errorf("path %q: no such folder of the key space", p)
	}
	if name == "" {
		return dir, -1, nil
	}
	for _, s := range k.slots() {
		if slotName(s) == name {
			return dir, s, nil
		}
	}
	return 0, 0, fmt.Errorf("path %q: not a name of the key space", p)
}

// Entry kinds in a folder's state.
const (
	none   byte = 0
	isFile byte = 'f'
	isDir  byte = 'd'
)

// entry is what a slot holds.
type entry struct {
	kind    byte
	content string // a file's bytes
}

// dirState is one folder of the key space: comparable, so porcupine's
// default == tells equal states apart.
type dirState [2 * maxNames]entry

// fsInput is an operation as porcupine sees it.
type fsInput struct {
	Dir      int
	Kind     Kind
	Slot, To int    // Slot is -1 for ls (the folder itself)
	Value    string // written or appended
	Unknown  bool   // no answer: any output, and the effect may or may not happen
}

// fsOutput is an answer: Err is the error kind ("" for success), Value a
// read's bytes or an ls's listing.
type fsOutput struct {
	Value, Err string
}

// parentErr is the error kind of a call that needs slot's folder to exist:
// a top name's folder always does; an x needs its top name to be a
// folder (namespace: parentOf and walk).
func (s *dirState) parentErr(slot int) string {
	if slot < maxNames {
		return ""
	}
	switch s[slot-maxNames].kind {
	case none:
		return "notexist"
	case isDir:
		return ""
	}
	return "notdir"
}

// lookupErr is the error kind of a call that needs slot itself to exist.
func (s *dirState) lookupErr(slot int) string {
	if e := s.parentErr(slot); e != "" {
		return e
	}
	if s[slot].kind == none {
		return "notexist"
	}
	return ""
}

// empty reports whether the folder at slot holds nothing.
func (s *dirState) empty(slot int) bool {
	return slot >= maxNames || s[maxNames+slot].kind == none
}

// listing is an ls of the folder: "name:f<size>" for a file, "name:d<n>"
// for a folder of n names, in name order, comma-separated.
func (s *dirState) listing() string {
	var parts []string
	for i := range maxNames {
		switch s[i].kind {
		case isFile:
			parts = append(parts, fmt.Sprintf("%s:f%d", slotName(i), len(s[i].content)))
		case isDir:
			n := 0
			if s[maxNames+i].kind != none {
				n = 1
			}
			parts = append(parts, fmt.Sprintf("%s:d%d", slotName(i), n))
		}
	}
	return strings.Join(parts, ",")
}

// apply is the namespace's sequential specification of in (namespace's
// ops.go, the API's handlers on top): the state after it and its answer.
func (s dirState) apply(in fsInput) (dirState, fsOutput) {
	fail := func(kind string) (dirState, fsOutput) { return s, fsOutput{Err: kind} }
	switch in.Kind {
	case Read: // fs/cat: Stat, then the content of a file
		if e := s.lookupErr(in.Slot); e != "" {
			return fail(e)
		}
		if s[in.Slot].kind == isDir {
			return fail("isdir")
		}
		return s, fsOutput{Value: s[in.Slot].content}
	case List:
		return s, fsOutput{Value: s.listing()}
	case Write: // Create, not exclusive
		if e := s.parentErr(in.Slot); e != "" {
			return fail(e)
		}
		if s[in.Slot].kind == isDir {
			return fail("isdir")
		}
		s[in.Slot] = entry{kind: isFile, content: in.Value}
	case Append: // a strong Stat, then SetContent if the file still holds what it read
		if e := s.lookupErr(in.Slot); e != "" {
			return fail(e)
		}
		if s[in.Slot].kind == isDir {
			return fail("isdir")
		}
		s[in.Slot].content += in.Value
	case Mkdir:
		if e := s.parentErr(in.Slot); e != "" {
			return fail(e)
		}
		if s[in.Slot].kind != none {
			return fail("exist")
		}
		s[in.Slot] = entry{kind: isDir}
	case Remove: // Unlink, and Rmdir (not recursive) of a folder
		if e := s.lookupErr(in.Slot); e != "" {
			return fail(e)
		}
		if s[in.Slot].kind == isDir && !s.empty(in.Slot) {
			return fail("notempty")
		}
		s[in.Slot] = entry{}
	case Rename:
		from, to := in.Slot, in.To
		if e := s.lookupErr(from); e != "" {
			return fail(e)
		}
		if e := s.parentErr(to); e != "" {
			return fail(e)
		}
		src := s[from]
		if src.kind == isDir && to >= maxNames && to-maxNames == from {
			return fail("invalid") // into itself
		}
		if s[to].kind != none {
			if from == to {
				return s, fsOutput{}
			}
			switch dst := s[to]; {
			case src.kind == isDir && dst.kind != isDir:
				return fail("notdir")
			case src.kind != isDir && dst.kind == isDir:
				return fail("isdir")
			case dst.kind == isDir && !s.empty(to):
				return fail("notempty")
			}
		}
		s[to], s[from] = src, entry{}
		if from < maxNames && to < maxNames { // a folder takes its x along
			s[maxNames+to], s[maxNames+from] = s[maxNames+from], entry{}
		}
	default:
		panic(fmt.Sprintf("chaos: no model for %q", in.Kind))
	}
	return s, fsOutput{}
}

// step is the model's Step: an unknown operation takes effect (if it can)
// and matches any answer; an answered one must answer what the model says.
func step(state, input, output any) (bool, any) {
	s, in := state.(dirState), input.(fsInput)
	next, want := s.apply(in)
	if in.Unknown {
		return true, next
	}
	got := output.(fsOutput)
	if got == want {
		return true, next
	}
	// rm is two changes (Unlink, then Rmdir when it met a folder): a folder
	// that became a file between them makes the Rmdir answer notdir, with
	// no effect. Accepted when the path holds a file: a slightly weaker
	// check than the two steps would be.
	if in.Kind == Remove && got.Err == "notdir" && s.parentErr(in.Slot) == "" && s[in.Slot].kind == isFile {
		return true, s
	}
	return false, s
}

// fsModel checks a history of the workload one folder at a time.
var fsModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byDir := map[int][]porcupine.Operation{}
		var order []int
		for _, op := range history {
			d := op.Input.(fsInput).Dir
			if _, ok := byDir[d]; !ok {
				order = append(order, d)
			}
			byDir[d] = append(byDir[d], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, d := range order {
			out = append(out, byDir[d])
		}
		return out
	},
	Init: func() any { return dirState{} },
	Step: step,
	Hash: func(state any) uint64 {
		s := state.(dirState)
		h := fnv.New64a()
		for _, e := range s {
			h.Write([]byte{e.kind})
			h.Write([]byte(e.content))
			h.Write([]byte{0})
		}
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in := input.(fsInput)
		var what string
		switch in.Kind {
		case List:
			what = fmt.Sprintf("ls d%d", in.Dir)
		case Rename:
			what = fmt.Sprintf("rename d%d/%s d%d/%s", in.Dir, slotName(in.Slot), in.Dir, slotName(in.To))
		case Write, Append:
			what = fmt.Sprintf("%s d%d/%s %q", in.Kind, in.Dir, slotName(in.Slot), in.Value)
		default:
			what = fmt.Sprintf("%s d%d/%s", in.Kind, in.Dir, slotName(in.Slot))
		}
		if in.Unknown {
			return what + " -> ?"
		}
		out := output.(fsOutput)
		switch {
		case out.Err != "":
			return what + " -> " + out.Err
		case in.Kind == Read || in.Kind == List:
			return fmt.Sprintf("%s -> %q", what, out.Value)
		}
		return what + " -> ok"
	},
	DescribeState: func(state any) string {
		s := state.(dirState)
		var parts []string
		for i, e := range s {
			switch e.kind {
			case isFile:
				parts = append(parts, fmt.Sprintf("%s=%q", slotName(i), e.content))
			case isDir:
				parts = append(parts, slotName(i)+"/")
			}
		}
		return "{" + strings.Join(parts, " ") + "}"
	},
}

// operations turns a history into porcupine's operations. Failed ones are
// left out (certainly not applied), and so are reads with no answer; a
// change of unknown outcome may take effect at any time after its
// invocation, so it never returns and matches any answer.
func operations(ops []Op, k keySpace, start int64) ([]porcupine.Operation, error) {
	var out []porcupine.Operation
	for _, op := range ops {
		read := op.Kind == Read || op.Kind == List
		if op.Outcome == Failed || read && op.Outcome != OK {
			continue
		}
		dir, slot, err := k.locate(op.Path)
		if err != nil {
			return nil, err
		}
		in := fsInput{Dir: dir, Kind: op.Kind, Slot: slot, To: -1, Value: op.Value, Unknown: op.Outcome == Unknown}
		switch {
		case op.Kind == List && slot != -1, op.Kind != List && slot == -1:
			return nil, fmt.Errorf("%s of %q: not in the model", op.Kind, op.Path)
		case op.Kind == Rename:
			d, to, err := k.locate(op.To)
			switch {
			case err != nil:
				return nil, err
			case d != dir || to == -1:
				return nil, fmt.Errorf("rename %s %s: not within one folder of the key space", op.Path, op.To)
			case slot < maxNames && to >= maxNames:
				return nil, fmt.Errorf("rename %s %s: a top name to an x is outside the model", op.Path, op.To)
			}
			in.To = to
		}
		var o fsOutput
		if read {
			in.Value = ""
			o = fsOutput{Value: op.Value, Err: op.Result}
			if op.Result != "" {
				o.Value = ""
			}
		} else {
			o = fsOutput{Err: op.Result}
		}
		ret := op.Return.UnixNano() - start
		if in.Unknown {
			ret = math.MaxInt64
		}
		out = append(out, porcupine.Operation{
			ClientId: op.Client, Input: in, Call: op.Invoke.UnixNano() - start, Output: o, Return: ret,
		})
	}
	return out, nil
}
