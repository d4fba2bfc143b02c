package fsclient

import (
	"io/fs"
	"path"
	"strconv"
	"time"
)

// Info is an inode as the daemon's API describes it, with the API's JSON
// names. The fs.FileInfo values the client returns carry it as Sys().
type Info struct {
	Path    string `json:"path"`
	Name    string `json:"name"`
	Kind    string `json:"kind"` // file, dir or symlink
	Mode    string `json:"mode"` // permission bits, octal
	Uid     uint32 `json:"uid"`  // owner (0 where unknown: eventual reads)
	Gid     uint32 `json:"gid"`  // group
	Size    uint64 `json:"size"` // a directory's is its number of entries
	Mtime   string `json:"mtime"`
	MtimeNS int64  `json:"mtime_ns"`
	CID     string `json:"cid"` // a file's content, "" for an empty file
	Ino     uint64 `json:"ino,omitempty"`
	Target  string `json:"target,omitempty"` // a symbolic link's
}

// FileMode returns the inode's kind bits and permissions.
func (i Info) FileMode() fs.FileMode {
	perm, _ := strconv.ParseUint(i.Mode, 8, 32)
	m := fs.FileMode(perm).Perm()
	switch i.Kind {
	case "dir":
		m |= fs.ModeDir
	case "symlink":
		m |= fs.ModeSymlink
	}
	return m
}

// ModTime returns the inode's modification time.
func (i Info) ModTime() time.Time { return time.Unix(0, i.MtimeNS) }

// FileInfo returns the inode as an fs.FileInfo (and fs.DirEntry) named
// i.Name, with i as its Sys().
func (i Info) FileInfo() fs.FileInfo { return &fileInfo{name: i.Name, info: i} }

// fileInfo is an Info seen through io/fs, under the name it was asked by.
type fileInfo struct {
	name string
	info Info
}

var (
	_ fs.FileInfo = (*fileInfo)(nil)
	_ fs.DirEntry = (*fileInfo)(nil)
)

// newFileInfo describes i under the base name of name.
func newFileInfo(name string, i Info) *fileInfo {
	base := path.Base(name)
	if name == "" || name == "/" {
		base = "/"
	}
	return &fileInfo{name: base, info: i}
}

func (f *fileInfo) Name() string               { return f.name }
func (f *fileInfo) Size() int64                { return int64(f.info.Size) }
func (f *fileInfo) Mode() fs.FileMode          { return f.info.FileMode() }
func (f *fileInfo) ModTime() time.Time         { return f.info.ModTime() }
func (f *fileInfo) IsDir() bool                { return f.info.Kind == "dir" }
func (f *fileInfo) Sys() any                   { i := f.info; return &i }
func (f *fileInfo) Type() fs.FileMode          { return f.Mode().Type() }
func (f *fileInfo) Info() (fs.FileInfo, error) { return f, nil }
func (f *fileInfo) String() string             { return fs.FormatFileInfo(f) }

// Commit is the daemon's answer to a change: the Raft index and term it
// committed at, and for a write the file's path and new content.
type Commit struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	Path  string `json:"path,omitempty"`
	CID   string `json:"cid,omitempty"`
	Size  uint64 `json:"size,omitempty"`
}

// RootInfo is the tree's root: its CID (a UnixFS directory), and the term,
// index and writer of the state it renders.
type RootInfo struct {
	CID    string `json:"cid"`
	Term   uint64 `json:"term"`
	Index  uint64 `json:"index"`
	Writer string `json:"writer"`
}

// WriterInfo is what the daemon knows of the namespace's writer.
type WriterInfo struct {
	Namespace string   `json:"namespace"`
	Writer    string   `json:"writer"` // the writer's peer ID, "" if none known
	Term      uint64   `json:"term"`
	Voters    []string `json:"voters"`
	Self      string   `json:"self"`      // the daemon's peer ID
	Voter     bool     `json:"voter"`     // the daemon runs a replica
	Applied   uint64   `json:"applied"`   // its replica's applied index
	Published uint64   `json:"published"` // the last root record it published
}
