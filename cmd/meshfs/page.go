package main

import (
	"net/http"
	"os"

	"meshfs/member"
	meshpeer "meshfs/peer"
	"meshfs/wasm/web"
)

// browserPage serves the browser page: the node built into this binary or
// the one in dc.WebDir, told to join through this daemon and its peers.
func browserPage(node *meshpeer.Node, ns *member.Member, dc daemonConfig) http.Handler {
	opts := web.Options{Config: func(*http.Request) web.Config {
		c := web.Config{
			Daemons:     node.BrowserAddrs(),
			Replication: node.Config().Replication,
			WriteQuorum: node.Config().WriteQuorum,
		}
		if ns != nil {
			v := ns.View()
			c.Namespace, c.Voters = v.Namespace, v.Voters
		}
		return c
	}}
	if dc.WebDir != "" {
		opts.Dist = os.DirFS(dc.WebDir)
	}
	return web.Handler(opts)
}
