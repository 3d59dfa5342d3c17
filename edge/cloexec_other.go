//go:build !unix

package edge

import "net"

// closeOnExec is the listener as it is: nbio keeps Go's own connections
// here, which are closed on exec already.
type closeOnExec struct{ net.Listener }
