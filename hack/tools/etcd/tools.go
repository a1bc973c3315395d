//go:build tools

// Package tools pins etcd for hack/cluster-binaries.sh.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
