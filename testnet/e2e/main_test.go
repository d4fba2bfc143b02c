package e2e

import (
	"os"
	"testing"

	"meshfs/testnet"
)

// binary is the meshfs binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) { os.Exit(testnet.RunWithBinary(m, &binary)) }
