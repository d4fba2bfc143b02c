package chaos

import (
	"fmt"
	"math"

	"github.com/anishathalye/porcupine"
)

// regInput is a register operation as porcupine sees it.
type regInput struct {
	Path  string
	Write bool
	Value string
}

// registerModel is a file as a register: a write sets it, a read returns
// it; histories are checked one path at a time.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byPath := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range history {
			p := op.Input.(regInput).Path
			if _, ok := byPath[p]; !ok {
				order = append(order, p)
			}
			byPath[p] = append(byPath[p], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, p := range order {
			out = append(out, byPath[p])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.Write {
			return true, in.Value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.Write {
			return fmt.Sprintf("write %s = %q", in.Path, in.Value)
		}
		return fmt.Sprintf("read %s -> %q", in.Path, output)
	},
}

// operations turns a history into porcupine's operations: failed ones
// (and reads with no answer) are left out; a write of unknown outcome may
// take effect at any time after its invocation, so it never returns.
func operations(ops []Op, start int64) []porcupine.Operation {
	var out []porcupine.Operation
	for _, op := range ops {
		in := regInput{Path: op.Path, Write: op.Write, Value: op.Value}
		ret := op.Return.UnixNano() - start
		switch {
		case op.Outcome == Failed, !op.Write && op.Outcome != OK:
			continue
		case op.Outcome == Unknown:
			ret = math.MaxInt64
		}
		out = append(out, porcupine.Operation{
			ClientId: op.Client, Input: in, Call: op.Invoke.UnixNano() - start, Output: op.Value, Return: ret,
		})
	}
	return out
}
