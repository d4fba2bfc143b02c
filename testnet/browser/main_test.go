package browser

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"meshfs/testnet"
)

var (
	binary string // the meshfs binary built once for the package's tests
	webDir string // the browser node built once, served with --web
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		dir, err := os.MkdirTemp("", "meshfs-web-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		err = testnet.BuildWeb(ctx, dir)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		webDir = dir
	}
	code := testnet.RunWithBinary(m, &binary)
	if webDir != "" {
		os.RemoveAll(webDir)
	}
	os.Exit(code)
}
