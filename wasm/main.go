//go:build js && wasm

package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"syscall/js"

	"github.com/libp2p/go-libp2p/core/crypto"

	"meshfs/content"
	"meshfs/member"
	"meshfs/wasm/blockstore"
	"meshfs/wasm/browser"
)

func main() {
	api := js.Global().Get("Object").New()
	js.Global().Set("meshfs", api)
	ready := make(chan struct{})
	var node *browser.Node
	var startErr error
	api.Set("ready", promise(func() (any, error) {
		<-ready
		if startErr != nil {
			return nil, startErr
		}
		return node.ID(), nil
	}))
	go func() {
		node, startErr = start(context.Background(), js.Global().Get("meshfsConfig"))
		if startErr != nil {
			js.Global().Get("console").Call("error", "meshfs: "+startErr.Error())
		}
		close(ready)
		if startErr == nil {
			publish(api, node)
		}
	}()
	select {} // the page owns the node's lifetime
}

// start reads the page's configuration and starts the node.
func start(ctx context.Context, cfg js.Value) (*browser.Node, error) {
	if cfg.IsUndefined() || cfg.IsNull() {
		return nil, errors.New("no globalThis.meshfsConfig")
	}
	key, err := identity()
	if err != nil {
		return nil, err
	}
	// Blocks are verified with the browser's SHA-256 where it has one.
	hash := webCryptoHash()
	if hash == nil {
		log("no crypto.subtle (not a secure context): blocks verified with Go's SHA-256, slower")
	}
	var store content.Store
	bc := blockstore.DefaultConfig()
	bc.Hash = hash
	store, err = blockstore.Open(ctx, bc)
	if err != nil {
		log("IndexedDB unavailable (%v): blocks cached in memory only", err)
		if store, err = blockstore.NewMemory(bc); err != nil {
			return nil, err
		}
	}
	// Blocks' last uses are saved when the page goes away.
	js.Global().Call("addEventListener", "pagehide", js.FuncOf(func(js.Value, []js.Value) any {
		if s, ok := store.(*blockstore.Store); ok {
			go s.Flush(context.Background())
		}
		return nil
	}))
	// Blocks come over HTTP from the daemon that served the page (its
	// trustless gateway, same origin: the daemons do not know each other's
	// HTTP addresses), and from the mesh when that fails.
	tr := newJSTransport()
	gateways := browser.NewGateways([]string{js.Global().Get("location").Get("origin").String()}, tr)
	n, err := browser.Start(ctx, browser.Config{
		Namespace:   cfg.Get("namespace").String(),
		Voters:      stringsOf(cfg.Get("voters")),
		Daemons:     stringsOf(cfg.Get("daemons")),
		Key:         key,
		Store:       store,
		Gateways:    gateways,
		Hash:        hash,
		Replication: intOf(cfg.Get("replication")),
		WriteQuorum: intOf(cfg.Get("writeQuorum")),
		Logf:        log,
	})
	if err == nil {
		tr.start() // once the node runs, not to slow its start
	}
	return n, err
}

func log(format string, args ...any) {
	js.Global().Get("console").Call("log", "meshfs: "+fmt.Sprintf(format, args...))
}

// identity returns this browser's Ed25519 key, kept in localStorage.
func identity() (crypto.PrivKey, error) {
	ls := js.Global().Get("localStorage")
	const item = "meshfs-key"
	if !ls.IsUndefined() {
		if s := ls.Call("getItem", item); s.Type() == js.TypeString {
			if b, err := base64.StdEncoding.DecodeString(s.String()); err == nil {
				if k, err := crypto.UnmarshalPrivateKey(b); err == nil {
					return k, nil
				}
			}
		}
	}
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	if !ls.IsUndefined() {
		if b, err := crypto.MarshalPrivateKey(k); err == nil {
			ls.Call("setItem", item, base64.StdEncoding.EncodeToString(b))
		}
	}
	return k, nil
}

// publish adds the node's calls to the API object.
func publish(api js.Value, n *browser.Node) {
	fn := func(name string, f func(args []js.Value) (any, error)) {
		api.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any {
			return promise(func() (any, error) { return f(args) })
		}))
	}
	ctx := context.Background()
	arg := func(args []js.Value, i int) string {
		if i < len(args) && args[i].Type() == js.TypeString {
			return args[i].String()
		}
		return ""
	}
	fn("peers", func([]js.Value) (any, error) {
		var out []any
		for _, p := range n.Peers() {
			out = append(out, map[string]any{"id": p.ID, "addr": p.Addr, "voter": p.Voter})
		}
		return out, nil
	})
	fn("status", func([]js.Value) (any, error) {
		v := n.View(ctx)
		voters := make([]any, len(v.Voters))
		for i, s := range v.Voters {
			voters[i] = s
		}
		return map[string]any{"self": v.Self, "namespace": v.Namespace, "writer": v.Writer, "term": float64(v.Term), "voters": voters}, nil
	})
	fn("stat", func(args []js.Value) (any, error) {
		info, level, err := n.Stat(ctx, arg(args, 0))
		if err != nil {
			return nil, err
		}
		return infoJS(info, level), nil
	})
	fn("ls", func(args []js.Value) (any, error) {
		infos, level, err := n.List(ctx, arg(args, 0))
		if err != nil {
			return nil, err
		}
		out := make([]any, len(infos))
		for i, info := range infos {
			out[i] = infoJS(info, level)
		}
		return out, nil
	})
	fn("root", func([]js.Value) (any, error) {
		r, level, err := n.Root(ctx)
		if err != nil {
			return nil, err
		}
		return map[string]any{"cid": r.CID.String(), "term": float64(r.Term), "index": float64(r.Index), "writer": r.Writer, "level": string(level)}, nil
	})
	fn("readFile", func(args []js.Value) (any, error) {
		return readToJS(n.OpenRange(ctx, arg(args, 0), 0, -1))
	})
	fn("read", func(args []js.Value) (any, error) {
		if len(args) < 3 {
			return nil, errors.New("read(path, offset, length)")
		}
		off, length := args[1].Int(), args[2].Int()
		if off < 0 || length < 0 {
			return nil, errors.New("read: negative offset or length")
		}
		return readToJS(n.OpenRange(ctx, arg(args, 0), int64(off), int64(length)))
	})
	fn("cat", func(args []js.Value) (any, error) {
		c, err := content.ParseCID(arg(args, 0))
		if err != nil {
			return nil, err
		}
		return readToJS(n.OpenRangeCID(ctx, c, 0, -1))
	})
	fn("writeFile", func(args []js.Value) (any, error) {
		if len(args) < 2 {
			return nil, errors.New("writeFile(path, Uint8Array|Blob[, onProgress])")
		}
		var r io.Reader
		switch data := args[1]; {
		case data.InstanceOf(js.Global().Get("Blob")):
			r = newBlobReader(data)
		case data.InstanceOf(js.Global().Get("Uint8Array")), data.InstanceOf(js.Global().Get("ArrayBuffer")):
			r = newBytesReader(data)
		default:
			return nil, errors.New("writeFile: data must be a Uint8Array, an ArrayBuffer or a Blob")
		}
		opts := browser.WriteOptions{Parents: true} // like mkdir -p, then write
		if len(args) > 2 && args[2].Type() == js.TypeFunction {
			cb := args[2]
			opts.Progress = func(done int64) { cb.Invoke(float64(done)) }
		}
		c, err := n.WriteFile(ctx, arg(args, 0), r, opts)
		if err != nil {
			return nil, err
		}
		return map[string]any{"index": float64(c.Index), "term": float64(c.Term)}, nil
	})
	fn("mkdir", func(args []js.Value) (any, error) {
		return nil, n.Mkdir(ctx, arg(args, 0), true)
	})
	fn("rename", func(args []js.Value) (any, error) {
		return nil, n.Rename(ctx, arg(args, 0), arg(args, 1))
	})
	fn("rm", func(args []js.Value) (any, error) {
		return nil, n.Remove(ctx, arg(args, 0))
	})
}

// infoJS describes an inode for JavaScript.
func infoJS(i member.Info, level member.Level) map[string]any {
	return map[string]any{
		"path": i.Path, "name": i.Name, "kind": i.Kind, "mode": float64(i.Mode.Perm()),
		"size": float64(i.Size), "mtime": float64(i.Mtime) / 1e6, "cid": i.CID,
		"target": i.Target, "level": string(level),
	}
}
