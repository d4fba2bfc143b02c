//go:build unix

package testnet_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"meshfs/testnet"
)

// binary is the meshfs binary TestMain builds for every test.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, cleanup, err := testnet.BuildInTemp(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	binary = bin
	return m.Run()
}
