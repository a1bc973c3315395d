//go:build tools

// Package tools pins np-guard netpol-analyzer for hack/cluster-binaries.sh. The checksum database does
// not know this module, so go.sum here (committed) is what pins its content.
package tools

import (
	_ "github.com/np-guard/netpol-analyzer/cmd/netpolicy"
)
