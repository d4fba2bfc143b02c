package testnet

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Build compiles the meshfs binary (go build -o out ./cmd/meshfs) in the
// module at moduleDir, with the go command on PATH. Tests call it once, from
// TestMain.
func Build(ctx context.Context, moduleDir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/meshfs")
	cmd.Dir = moduleDir
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("testnet: go build ./cmd/meshfs in %s: %w\n%s", moduleDir, err, output.Bytes())
	}
	return nil
}

// BuildInTemp finds the module holding the working folder (walking up to
// go.mod), builds the meshfs binary into a new temporary folder and returns
// its path and a function that removes the folder. Test binaries call it
// from TestMain.
func BuildInTemp(ctx context.Context) (bin string, cleanup func(), err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "meshfs-bin-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "meshfs")
	if err := Build(ctx, root, bin); err != nil {
		cleanup()
		return "", nil, err
	}
	return bin, cleanup, nil
}

// moduleRoot walks up from the working folder to the one holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testnet: no go.mod above the working folder")
		}
		dir = parent
	}
}

// RunWithBinary is the TestMain of a package whose tests run real daemons:
// it builds the meshfs binary once into a temporary folder, sets *binary to
// its path, runs the tests and removes the binary, and returns the exit
// code. With -short it builds nothing (the tests skip themselves).
func RunWithBinary(m *testing.M, binary *string) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, cleanup, err := BuildInTemp(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		return 1
	}
	defer cleanup()
	*binary = bin
	return m.Run()
}
