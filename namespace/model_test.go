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

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/internal/testrand"
)

// model is the tree as a map from path to kind and content, and the
// access list as a set: the simplest statement of the operations' rules,
// to check State against.
type model struct {
	tree   map[string]node
	access map[string]bool
}

// node is what the model knows of one path.
type node struct {
	kind     Kind
	cid      cid.Cid // a file's content
	uid, gid uint32
}

func newModel() model {
	return model{tree: map[string]node{"/": {kind: KindDir}}, access: map[string]bool{}}
}

// parentErr checks that the folders above p exist and are directories.
func (m model) parentErr(p string) error {
	dir := path.Dir(p)
	if dir == "/" {
		return nil
	}
	if err := m.parentErr(dir); err != nil {
		return err
	}
	switch n, ok := m.tree[dir]; {
	case !ok:
		return fs.ErrNotExist
	case n.kind != KindDir:
		return ErrNotDir
	}
	return nil
}

// existing returns the node at p, or the error for reaching it.
func (m model) existing(p string) (node, error) {
	if err := m.parentErr(p); err != nil {
		return node{}, err
	}
	n, ok := m.tree[p]
	if !ok {
		return node{}, fs.ErrNotExist
	}
	return n, nil
}

func (m model) hasChildren(p string) bool {
	for q := range m.tree {
		if path.Dir(q) == p && q != "/" {
			return true
		}
	}
	return false
}

func (m model) removeTree(p string) {
	for q := range m.tree {
		if q == p || strings.HasPrefix(q, p+"/") {
			delete(m.tree, q)
		}
	}
}

// badOwner reports an operation that would make an inode owned by KeepID.
func badOwner(op Op) bool {
	switch o := op.(type) {
	case Mkdir:
		return o.Uid == KeepID || o.Gid == KeepID
	case Create:
		return o.Uid == KeepID || o.Gid == KeepID
	case Symlink:
		return o.Uid == KeepID || o.Gid == KeepID
	case Touch:
		return !o.NoCreate && (o.Uid == KeepID || o.Gid == KeepID)
	}
	return false
}

func (m model) apply(op Op) error {
	if badOwner(op) {
		return fs.ErrInvalid
	}
	switch o := op.(type) {
	case Mkdir:
		if o.Parents {
			// Every existing prefix must be a directory; the missing ones
			// are made.
			for q := o.Path; ; q = path.Dir(q) {
				if n, ok := m.tree[q]; ok && n.kind != KindDir {
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
				if _, ok := m.tree[q]; !ok {
					m.tree[q] = node{kind: KindDir, uid: o.Uid, gid: o.Gid}
				}
			}
			return nil
		}
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		if _, ok := m.tree[o.Path]; ok {
			return fs.ErrExist
		}
		m.tree[o.Path] = node{kind: KindDir, uid: o.Uid, gid: o.Gid}
	case Create:
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		if n, ok := m.tree[o.Path]; ok {
			switch {
			case n.kind == KindDir:
				return ErrIsDir
			case n.kind != KindFile || o.Exclusive:
				return fs.ErrExist
			}
			n.cid = o.CID // the owners stay
			m.tree[o.Path] = n
			return nil
		}
		m.tree[o.Path] = node{kind: KindFile, cid: o.CID, uid: o.Uid, gid: o.Gid}
	case SetContent:
		n, err := m.existing(o.Path)
		switch {
		case err != nil:
			return err
		case n.kind == KindDir:
			return ErrIsDir
		case n.kind == KindSymlink, o.IfEmpty && o.Prev.Defined():
			return fs.ErrInvalid
		case o.Prev.Defined() && n.cid != o.Prev, o.IfEmpty && n.cid.Defined():
			return ErrConflict
		}
		n.cid = o.CID
		m.tree[o.Path] = n
	case Unlink:
		switch n, err := m.existing(o.Path); {
		case err != nil:
			return err
		case n.kind == KindDir:
			return ErrIsDir
		}
		delete(m.tree, o.Path)
	case Rmdir:
		switch n, err := m.existing(o.Path); {
		case err != nil:
			return err
		case n.kind != KindDir:
			return ErrNotDir
		case m.hasChildren(o.Path) && !o.Recursive:
			return ErrNotEmpty
		}
		m.removeTree(o.Path)
	case Rename:
		src, err := m.existing(o.From)
		if err != nil {
			return err
		}
		if err := m.parentErr(o.To); err != nil {
			return err
		}
		if src.kind == KindDir && strings.HasPrefix(o.To, o.From+"/") {
			return fs.ErrInvalid
		}
		if o.To == o.From {
			return nil
		}
		if dst, ok := m.tree[o.To]; ok {
			switch {
			case o.NoReplace:
				return fs.ErrExist
			case src.kind == KindDir && dst.kind != KindDir:
				return ErrNotDir
			case src.kind != KindDir && dst.kind == KindDir:
				return ErrIsDir
			case dst.kind == KindDir && m.hasChildren(o.To):
				return ErrNotEmpty
			}
			m.removeTree(o.To)
		}
		moved := map[string]node{}
		for q, n := range m.tree {
			if q == o.From || strings.HasPrefix(q, o.From+"/") {
				moved[o.To+strings.TrimPrefix(q, o.From)] = n
				delete(m.tree, q)
			}
		}
		maps.Copy(m.tree, moved)
	case Symlink:
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		if _, ok := m.tree[o.Path]; ok {
			return fs.ErrExist
		}
		m.tree[o.Path] = node{kind: KindSymlink, uid: o.Uid, gid: o.Gid}
	case Chmod:
		_, err := m.existing(o.Path)
		return err
	case Chown:
		n, err := m.existing(o.Path)
		if err != nil {
			return err
		}
		if o.Uid != KeepID {
			n.uid = o.Uid
		}
		if o.Gid != KeepID {
			n.gid = o.Gid
		}
		m.tree[o.Path] = n
	case Touch:
		if err := m.parentErr(o.Path); err != nil {
			return err
		}
		if _, ok := m.tree[o.Path]; !ok {
			if o.NoCreate && o.Path != "/" {
				return fs.ErrNotExist
			}
			m.tree[o.Path] = node{kind: KindFile, uid: o.Uid, gid: o.Gid}
		}
	case Allow:
		if o.Peer == "" {
			return fs.ErrInvalid
		}
		m.access[o.Peer] = true
	case Deny:
		if o.Peer == "" {
			return fs.ErrInvalid
		}
		delete(m.access, o.Peer)
	default:
		panic(fmt.Sprintf("model: no %T", op))
	}
	return nil
}

// paths lists the state's tree as the model's map.
func (s *State) paths() map[string]node {
	root := s.inodes[RootIno]
	m := map[string]node{"/": {kind: KindDir, uid: root.Uid, gid: root.Gid}}
	var walk func(p string, n *Inode)
	walk = func(p string, n *Inode) {
		for name, ino := range n.entries {
			c := s.inodes[ino]
			q := path.Join(p, name)
			m[q] = node{kind: c.Kind, cid: c.CID, uid: c.Uid, gid: c.Gid}
			walk(q, c)
		}
	}
	walk("/", s.inodes[RootIno])
	return m
}

// opCID returns the i-th of a few content CIDs the random operations use:
// real raw blocks of one byte, so that a tree of them renders.
func opCID(i int) cid.Cid {
	b, err := content.NewRawBlock([]byte{byte(i)})
	if err != nil {
		panic(err)
	}
	return b.CID()
}

// randomOp returns an operation of any kind on a few short paths, content
// CIDs and peers, so that operations often meet.
func randomOp(r *rand.Rand) Op {
	p := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			b.WriteString("/" + string(rune('a'+r.IntN(3))))
		}
		return b.String()
	}
	someCID := func() cid.Cid {
		if i := r.IntN(4); i > 0 {
			return opCID(i)
		}
		return cid.Undef
	}
	peer := func() string { return []string{"", AnyPeer, "p1", "p2"}[r.IntN(4)] }
	// id is a uid or gid: mostly root or a user, rarely KeepID (refused
	// by the operations that make inodes).
	id := func() uint32 {
		if r.IntN(40) == 0 {
			return KeepID
		}
		return []uint32{0, 0, 1000, 65534}[r.IntN(4)]
	}
	mtime := int64(r.IntN(1000))
	switch r.IntN(15) {
	case 0, 1:
		return Mkdir{Path: p(), Perm: 0o755, Uid: id(), Gid: id(), Parents: r.IntN(2) == 0, Mtime: mtime}
	case 2, 3:
		c := someCID()
		return Create{Path: p(), Perm: 0o644, Uid: id(), Gid: id(), CID: c, Size: 1, Tsize: 1, Exclusive: r.IntN(3) == 0, Mtime: mtime}
	case 4:
		return Unlink{Path: p(), Mtime: mtime}
	case 5:
		return Rmdir{Path: p(), Recursive: r.IntN(2) == 0, Mtime: mtime}
	case 6, 7:
		return Rename{From: p(), To: p(), NoReplace: r.IntN(4) == 0, Mtime: mtime}
	case 8:
		return Symlink{Path: p(), Target: string(rune('s' + r.IntN(3))), Uid: id(), Gid: id(), Mtime: mtime}
	case 9, 10:
		op := SetContent{Path: p(), CID: someCID(), Size: 1, Tsize: 1, Mtime: mtime}
		switch r.IntN(4) {
		case 0:
			op.Prev = someCID()
		case 1:
			op.IfEmpty = true
		case 2:
			op.Prev, op.IfEmpty = someCID(), r.IntN(4) == 0
		}
		return op
	case 11:
		if r.IntN(2) == 0 {
			return Chmod{Path: p(), Perm: fs.FileMode(r.IntN(0o1000))}
		}
		return Touch{Path: p(), Uid: id(), Gid: id(), Mtime: mtime, NoCreate: r.IntN(3) == 0}
	case 12:
		return Allow{Peer: peer()}
	case 13:
		uid, gid := id(), id()
		if r.IntN(4) == 0 {
			uid, gid = KeepID, KeepID
		}
		return Chown{Path: p(), Uid: uid, Gid: gid}
	}
	return Deny{Peer: peer()}
}

// errClass names the sentinel an error wraps, for comparing with the model.
func errClass(err error) string {
	for _, e := range []error{fs.ErrExist, fs.ErrNotExist, fs.ErrInvalid, ErrNotDir, ErrIsDir, ErrNotEmpty, ErrConflict} {
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
		s, m := New(), newModel()
		var log []string
		for range 60 {
			op := randomOp(r)
			got, want := s.Apply(op), m.apply(op)
			log = append(log, fmt.Sprintf("%#v -> %s", op, errClass(got)))
			if errClass(got) != errClass(want) {
				t.Fatalf("run %d: %#v: state says %v, model says %v\n%s", run, op, got, want, strings.Join(log, "\n"))
			}
			if st := s.paths(); !maps.Equal(st, m.tree) {
				t.Fatalf("run %d: after %#v the trees differ:\nstate %v\nmodel %v\n%s", run, op, st, m.tree, strings.Join(log, "\n"))
			}
			if got, want := s.AccessList(), slices.Sorted(maps.Keys(m.access)); !slices.Equal(got, want) {
				t.Fatalf("run %d: after %#v the access lists differ: state %q, model %q", run, op, got, want)
			}
			for _, p := range []string{"p1", "p2", "p3"} {
				if got, want := s.Allowed(p), m.access[p] || m.access[AnyPeer]; got != want {
					t.Fatalf("run %d: after %#v Allowed(%q) = %v, model says %v", run, op, p, got, want)
				}
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
