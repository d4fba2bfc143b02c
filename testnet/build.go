package testnet

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
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
