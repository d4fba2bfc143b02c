//go:build linux && !meshfs_portablesync

package content

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// batchSyncer makes a batch durable with syncfs(2) on the store's folder:
// one call writes back and flushes every file of the batch (and whatever
// else is dirty on that file system), where fsyncing each file and folder
// would flush the disk's cache once per file. Since Linux 5.8 syncfs
// reports write-back errors of the whole file system since the folder was
// opened, which is why a failed sync fails the store (ErrStoreFailed).
type batchSyncer struct {
	root *os.File // the store's folder, open for syncfs
}

func openBatchSyncer(dir string) (*batchSyncer, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	return &batchSyncer{root: f}, nil
}

// written starts writing f's new pages to disk and does not wait, so that
// the disk works while the batch gathers and the batch's syncfs finds
// little left to do. It is only a hint (sync is what makes them durable),
// so its failure is ignored.
func (y *batchSyncer) written(f *os.File) error {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			_ = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		})
	}
	return nil
}

// sync makes durable the data of every file handed to written before and
// every rename done before, in the folders given or not.
func (y *batchSyncer) sync([]string) error {
	rc, err := y.root.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Syncfs(int(fd))
			if !errors.Is(serr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.SyscallError{Syscall: "syncfs", Err: serr}
	}
	return nil
}

func (y *batchSyncer) close() error { return y.root.Close() }

// fsTopDirFlag is FS_TOPDIR_FL of <linux/fs.h>: the folder is the top of a
// hierarchy, so ext2/3/4 spread its subfolders over the disk's block groups
// as they do the root's, instead of packing them near their parent.
const fsTopDirFlag = 0x00020000

// spreadSubdirs asks the file system to spread dir's subfolders (the
// shards) over the disk, where it can (ext2/3/4). Packed into the block
// group of their parent, 1024 shards of new files contend for one group's
// inode table, and without a journal ext4 scans past every inode freed in
// the last minutes at each file it creates (it will not reuse them soon),
// which made creating a block's file cost more CPU than hashing it after a
// large delete. It is only a hint; failures are ignored.
func spreadSubdirs(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		flags, err := unix.IoctlGetUint32(int(fd), unix.FS_IOC_GETFLAGS)
		if err != nil || flags&fsTopDirFlag != 0 {
			return
		}
		_ = unix.IoctlSetPointerInt(int(fd), unix.FS_IOC_SETFLAGS, int(flags|fsTopDirFlag))
	})
}
