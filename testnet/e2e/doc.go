// Package e2e holds the end-to-end tests of the mesh: real `meshfs daemon`
// processes on 127.0.0.1 started by package testnet, driven through their
// HTTP API and the meshfs command, with peers killed, restarted and added.
package e2e
