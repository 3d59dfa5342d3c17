package testenv

import (
	"context"
	"net"
	"net/http"
)

// DialFrom dials from the loopback address 127.0.0.<host>, so that a test
// can be many clients of a server on 127.0.0.1 (Linux answers the whole
// of 127.0.0.0/8 on lo).
func DialFrom(host byte) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, host)}}
	return d.DialContext
}

// ClientFrom is an HTTP client whose requests come from 127.0.0.<host>
// (DialFrom), keeping its connections alive or not.
func ClientFrom(host byte, keepAlive bool) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: DialFrom(host), DisableKeepAlives: !keepAlive}}
}
