// Package fsclient is a Go client for a meshfs daemon's namespace API
// (/api/v0/fs/), the shared file tree a mesh replicates with Raft, used the
// way the os and io/fs packages are: [New] makes a [Client] for a daemon's
// API URL; [Client.FS] is a read-only [io/fs] view of the tree (fs.FS,
// fs.ReadDirFS, fs.StatFS, fs.ReadFileFS, fs.ReadLinkFS) that passes
// [testing/fstest.TestFS]; [Client.OpenFile], [Client.Open] and
// [Client.Create] give a [File] with Read, ReadAt, Write, WriteAt, Seek,
// Truncate, Sync and Close; [Client.Mkdir], [Client.Remove],
// [Client.Rename], [Client.Stat], [Client.ReadFile], [Client.WriteFile] and
// the others mirror their os namesakes. Paths are slash-separated and
// rooted at the namespace's root ("a/b" is "/a/b"); the client follows
// symbolic links where the os functions do, since the API never does.
// Errors are [*fs.PathError] (or [*os.LinkError] for two paths) wrapping
// the sentinel the daemon named by kind, so errors.Is(err,
// fs.ErrNotExist), namespace.ErrIsDir, namespace.ErrNotEmpty,
// member.ErrNoWriter and the others work. Reads are made at the client's
// level ([WithConsistency], strong by default). A file opened for reading
// is pinned to the content its open saw and later reads fetch that content
// by CID, so they never mix two versions. A file opened for writing has
// close-to-open semantics: its changes stay in the client (in memory, in a
// temporary file beyond [WithMemoryLimit]) until [File.Sync] or
// [File.Close] commits them as one change, which no reader sees before and
// every strong read on any peer sees after (see [File.Sync] for how a
// commit is sent). Inodes have owners (POSIX uid and gid, in [Info]):
// what a client makes is root's unless the client came from
// [Client.As]; [Client.Chown] and [Client.Lchown] change them. fsclient
// imports no libp2p and builds for js/wasm.
package fsclient
