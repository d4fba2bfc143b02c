package namespace

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"

	"meshfs/internal/testrand"
)

// model is the tree as a map from path to kind: the simplest statement of
// the operations' rules, to check State against.
type model map[string]Kind

// parentErr checks that the folders above p exist and are directories.
func (m model) parentErr(p string) error {
	dir := path.Dir(p)
	if dir == "/" {
		return nil
	}
	if err := m.parentErr(dir); err != nil {
		return err
	}
	switch k, ok := m[dir]; {
	case !ok:
		return fs.ErrNotExist
	case k != KindDir:
		return ErrNotDir
	}
	return nil
}

func (m model) hasChildren(p string) bool {
	for q := range m {
		if path.Dir(q) == p && q != "/" {
			return true
		}
	}
	return false
}

func (m model) removeTree(p string) {
	for q := range m {
		if q == p || strings.HasPrefix(q, p+"/") {
			delete(m, q)
		}
	}
}

func (m model) apply(op Op) error {
	switch o := op.(type) {
	case Mkdir:
		if o.Parents {
			// Every existing prefix must be a directory; the missing ones
			// are made.
			for q := o.Path; ; q = path.Dir(q) {
				if k, ok := m[q]; ok && k != KindDir {
					if q == o.Path {
						return fs.ErrExist
					}
					return ErrNotDir
				}
				if q == "/" {
					break
				}
			}
			for q := o.Path; q != "/"; q = path.Dir(q) {
				if _, ok := m[q]; !ok {
					m[q] = KindDir
				}
			}
			return nil
		}
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		if _, ok := m[o.Path]; ok {
			return fs.ErrExist
		}
		m[o.Path] = KindDir
	case Create:
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		if k, ok := m[o.Path]; ok {
			switch {
			case k == KindDir:
				return ErrIsDir
			case k != KindFile || o.Exclusive:
				return fs.ErrExist
			}
		}
		m[o.Path] = KindFile
	case Unlink:
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		switch k, ok := m[o.Path]; {
		case !ok:
			return fs.ErrNotExist
		case k == KindDir:
			return ErrIsDir
		}
		delete(m, o.Path)
	case Rmdir:
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		switch k, ok := m[o.Path]; {
		case !ok:
			return fs.ErrNotExist
		case k != KindDir:
			return ErrNotDir
		case m.hasChildren(o.Path) && !o.Recursive:
			return ErrNotEmpty
		}
		m.removeTree(o.Path)
	case Rename:
		if err := m.parentErr(o.From); err != nil {
			return err
		}
		src, ok := m[o.From]
		if !ok {
			return fs.ErrNotExist
		}
		if err := m.parentErr(o.To); err != nil {
			return err
		}
		if src == KindDir && strings.HasPrefix(o.To, o.From+"/") {
			return fs.ErrInvalid
		}
		if o.To == o.From {
			return nil
		}
		if dst, ok := m[o.To]; ok {
			switch {
			case o.NoReplace:
				return fs.ErrExist
			case src == KindDir && dst != KindDir:
				return ErrNotDir
			case src != KindDir && dst == KindDir:
				return ErrIsDir
			case dst == KindDir && m.hasChildren(o.To):
				return ErrNotEmpty
			}
			m.removeTree(o.To)
		}
		moved := model{}
		for q, k := range m {
			if q == o.From || strings.HasPrefix(q, o.From+"/") {
				moved[o.To+strings.TrimPrefix(q, o.From)] = k
				delete(m, q)
			}
		}
		maps.Copy(m, moved)
	case Symlink:
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		if _, ok := m[o.Path]; ok {
			return fs.ErrExist
		}
		m[o.Path] = KindSymlink
	default:
		panic(fmt.Sprintf("model: no %T", op))
	}
	return nil
}

// paths lists the state's tree as the model's map.
func (s *State) paths() model {
	m := model{"/": KindDir}
	var walk func(p string, n *Inode)
	walk = func(p string, n *Inode) {
		for name, ino := range n.entries {
			c := s.inodes[ino]
			q := path.Join(p, name)
			m[q] = c.Kind
			walk(q, c)
		}
	}
	walk("/", s.inodes[RootIno])
	return m
}

func randomOp(r *rand.Rand) Op {
	p := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			b.WriteString("/" + string(rune('a'+r.IntN(3))))
		}
		return b.String()
	}
	switch r.IntN(6) {
	case 0:
		return Mkdir{Path: p(), Perm: 0o755, Parents: r.IntN(2) == 0}
	case 1:
		return Create{Path: p(), Perm: 0o644, Exclusive: r.IntN(3) == 0}
	case 2:
		return Unlink{Path: p()}
	case 3:
		return Rmdir{Path: p(), Recursive: r.IntN(2) == 0}
	case 4:
		return Rename{From: p(), To: p(), NoReplace: r.IntN(4) == 0}
	}
	return Symlink{Path: p(), Target: "t"}
}

// errClass names the sentinel an error wraps, for comparing with the model.
func errClass(err error) string {
	for _, e := range []error{fs.ErrExist, fs.ErrNotExist, fs.ErrInvalid, ErrNotDir, ErrIsDir, ErrNotEmpty} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return "ok"
}

func TestStateMatchesModel(t *testing.T) {
	r := testrand.New(t)
	for run := range 200 {
		s, m := New(), model{"/": KindDir}
		var log []string
		for range 60 {
			op := randomOp(r)
			got, want := s.Apply(op), m.apply(op)
			log = append(log, fmt.Sprintf("%#v -> %s", op, errClass(got)))
			if errClass(got) != errClass(want) {
				t.Fatalf("run %d: %#v: state says %v, model says %v\n%s", run, op, got, want, strings.Join(log, "\n"))
			}
			if st := s.paths(); !maps.Equal(st, m) {
				t.Fatalf("run %d: after %#v the trees differ:\nstate %v\nmodel %v\n%s", run, op, slices.Sorted(maps.Keys(st)), slices.Sorted(maps.Keys(m)), strings.Join(log, "\n"))
			}
		}
	}
}

func TestApplyIsDeterministic(t *testing.T) {
	r := testrand.New(t)
	ops := make([]Op, 500)
	for i := range ops {
		ops[i] = randomOp(r)
	}
	a, b := New(), New()
	for _, op := range ops {
		ea, eb := a.Apply(op), b.Apply(op)
		if errClass(ea) != errClass(eb) {
			t.Fatalf("%#v: %v vs %v", op, ea, eb)
		}
	}
	if !equalStates(a, b) {
		t.Fatal("the same operations gave different trees")
	}
}
