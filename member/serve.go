package member

import (
	"context"
	"encoding/json"
	"errors"

	"meshfs/namespace"
)

// HandleRequest answers a request that peer from (authenticated by the
// transport) sent.
func (m *Member) HandleRequest(ctx context.Context, from string, b []byte) []byte {
	a, err := m.serve(ctx, from, b)
	if err != nil {
		a.Err = encodeError(err)
		var nw *notWriterError
		if errors.As(err, &nw) {
			a.Term, a.Writer = nw.term, nw.writer
		}
	}
	out, err := json.Marshal(a)
	if err != nil {
		out, _ = json.Marshal(answer{Err: encodeError(err)})
	}
	return out
}

func (m *Member) serve(ctx context.Context, from string, b []byte) (answer, error) {
	req, err := decodeRequest(b)
	if err != nil {
		return answer{}, err
	}
	switch req.Kind {
	case kindApply:
		op, err := namespace.DecodeOp(req.Op)
		if err != nil {
			return answer{}, err
		}
		return m.applyLocal(ctx, from, op)
	case kindVoter:
		return m.voterLocal(ctx, from, req.Path, req.Remove)
	case kindWriter:
		v := m.View()
		return answer{Term: v.Term, Writer: v.Writer, Voters: v.Voters, Index: v.Applied}, nil
	case kindStat, kindList, kindRoot, kindPins:
		// Only voters answer reads for others, and only while they know a
		// writer (else the caller had better ask another voter).
		if !m.isVoter() || req.Level == Strong && m.View().Writer == "" {
			return answer{}, &notWriterError{}
		}
		return m.readLocal(ctx, req)
	}
	return answer{}, ErrBadRequest
}
