package mount

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
	"time"

	"meshfs/fsclient"
	"meshfs/member"
	"meshfs/namespace"
)

func TestToErrno(t *testing.T) {
	pe := func(err error) error { return &fs.PathError{Op: "op", Path: "/p", Err: err} }
	tests := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{pe(fs.ErrNotExist), syscall.ENOENT},
		{pe(fs.ErrExist), syscall.EEXIST},
		{&os.LinkError{Op: "rename", Old: "/a", New: "/b", Err: namespace.ErrNotEmpty}, syscall.ENOTEMPTY},
		{pe(namespace.ErrNotDir), syscall.ENOTDIR},
		{pe(namespace.ErrIsDir), syscall.EISDIR},
		{pe(fs.ErrInvalid), syscall.EINVAL},
		{pe(fsclient.ErrSymlinkLoop), syscall.ELOOP},
		{pe(fs.ErrPermission), syscall.EACCES},
		{&fsclient.Error{Status: 403, Kind: "notallowed", Message: "no"}, syscall.EIO}, // no sentinel set: EIO
		{fmt.Errorf("commit: %w", member.ErrNotAllowed), syscall.EACCES},
		{fmt.Errorf("commit: %w", member.ErrNoWriter), syscall.EIO},
		{pe(context.DeadlineExceeded), syscall.EIO},
		{fmt.Errorf("read: %w", errTimeout), syscall.EIO},
		{pe(syscall.ENOSPC), syscall.ENOSPC},
		{errors.New("anything else"), syscall.EIO},
	}
	for _, tt := range tests {
		if got := toErrno(tt.err); got != tt.want {
			t.Errorf("toErrno(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"default", func(*Config) {}, true},
		{"no cache", func(c *Config) { c.AttrTTL = 0 }, true},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, false},
		{"negative ttl", func(c *Config) { c.AttrTTL = -time.Second }, false},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.change(&c)
		err := c.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadConfig)) {
			t.Errorf("%s: Validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
