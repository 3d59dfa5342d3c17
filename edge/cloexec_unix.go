//go:build unix

package edge

import (
	"net"
	"syscall"

	"github.com/lesismal/nbio"
)

// closeOnExec is the listener nbio accepts viewers from: it hands nbio each
// connection already taken off Go's poller, as an *nbio.Conn whose
// descriptor is closed on exec (nbio.NBConn passes one through as it is).
//
// nbio takes a connection off Go's poller by duplicating its descriptor
// (nbio.NBConn: syscall.Dup, which clears close-on-exec) and closing Go's.
// Left to it, every child process started while a viewer was connected (an
// exec.Command in the edge's process: the NATS CLI in TestNATSCLI, bench's
// viewer processes) inherited that viewer's socket and held it open for its
// life. The edge's close of the viewer then reached no one until the child
// exited; and because nbio closes a descriptor without taking it out of its
// epoll set, epoll kept reporting the surviving socket's hang-up under the
// old descriptor number, so the next viewer given that number was closed
// after its first read, before the upgrade's answer (the NATS CLI's
// "unexpected EOF"). The duplicate is made and marked under
// syscall.ForkLock, as the syscall package asks, so no fork copies it in
// between.
type closeOnExec struct{ net.Listener }

func (l closeOnExec) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if nc, err := takeOff(c); err == nil {
			return nc, nil
		}
		_ = c.Close() // no descriptor to spare: this viewer goes, the next may come
	}
}

// takeOff converts c to an *nbio.Conn that is closed on exec.
func takeOff(c net.Conn) (*nbio.Conn, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nc, err := nbio.NBConn(c)
	if err != nil {
		return nil, err
	}
	rc, err := nc.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) { syscall.CloseOnExec(int(fd)) })
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return nc, nil
}
