//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall/js"

	"meshfs/member"
)

// promise runs f in a goroutine (a JS callback must not block) and returns
// a Promise of its result; an error rejects it with an Error whose kind
// says which ("notexist", "notallowed", "nowriter", ...).
func promise(f func() (any, error)) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := f()
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(executor)
	executor.Release()
	return p
}

// jsError makes a JS Error of err, with its kind.
func jsError(err error) js.Value {
	e := js.Global().Get("Error").New(err.Error())
	e.Set("kind", member.ErrorKind(err))
	return e
}

// await waits for a JS promise.
func await(p js.Value) (js.Value, error) {
	return awaitCtx(context.Background(), p, nil)
}

// awaitCtx waits for a JS promise, or until ctx ends: then it calls abort,
// which must make the promise settle soon, and returns ctx's error.
func awaitCtx(ctx context.Context, p js.Value, abort func()) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: args[0]}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "rejected"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		if abort != nil {
			abort()
		}
		<-ch // the callbacks are released only once called
		return js.Undefined(), ctx.Err()
	}
}

// readToJS reads what an OpenRange call opened, size bytes, into a new
// Uint8Array, block by block (no copy of the whole in Go's memory).
func readToJS(r io.ReadCloser, size int64, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	w := &jsArrayWriter{arr: js.Global().Get("Uint8Array").New(size)}
	if _, err := io.Copy(w, r); err != nil {
		return nil, err
	}
	if w.off != int(size) {
		return nil, fmt.Errorf("read %d bytes, expected %d", w.off, size)
	}
	return w.arr, nil
}

// jsArrayWriter writes into a Uint8Array, refusing to write past its end.
type jsArrayWriter struct {
	arr js.Value
	off int
}

func (w *jsArrayWriter) Write(p []byte) (int, error) {
	if len(p) > w.arr.Length()-w.off {
		return 0, io.ErrShortWrite
	}
	n := js.CopyBytesToJS(w.arr.Call("subarray", w.off, w.off+len(p)), p)
	w.off += n
	return n, nil
}

// stringsOf reads a JS array of strings.
func stringsOf(v js.Value) []string {
	if v.IsUndefined() || v.IsNull() {
		return nil
	}
	out := make([]string, v.Length())
	for i := range out {
		out[i] = v.Index(i).String()
	}
	return out
}

// intOf reads a JS number, 0 if it is not one.
func intOf(v js.Value) int {
	if v.Type() != js.TypeNumber {
		return 0
	}
	return v.Int()
}
