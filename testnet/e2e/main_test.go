package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"meshfs/testnet"
)

// binary is the meshfs binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if testing.Short() {
			return m.Run()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		bin, cleanup, err := testnet.BuildInTemp(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			return 1
		}
		defer cleanup()
		binary = bin
		return m.Run()
	}())
}
