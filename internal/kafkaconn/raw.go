package kafkaconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/apiversions"
	"github.com/segmentio/kafka-go/protocol/saslauthenticate"
	"github.com/segmentio/kafka-go/protocol/saslhandshake"
)

// RawConn is a connection of its own to one broker, secured as its Conn
// says, for a client that writes some requests itself (the bridge's
// fetches). Its Conn reads through a buffer; Versions are the highest
// version of each API the broker answers.
type RawConn struct {
	*protocol.Conn
	Versions map[protocol.ApiKey]int16
}

// DialRaw connects to the broker at addr (host:port): TCP, TLS if c has
// it (verified against addr's host unless c names a server), the broker's
// API versions, then c's SASL exchange (handshake version 1 and
// SaslAuthenticate, Kafka 1.0 and later), all within DialTimeout.
func (c Conn) DialRaw(ctx context.Context, addr, clientID string) (_ *RawConn, err error) {
	ctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	dial := c.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	if c.TLS != nil {
		cfg := c.TLS
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, c.Explain(fmt.Errorf("TLS with %s: %w", addr, err))
		}
		nc = tc
	}
	deadline, _ := ctx.Deadline()
	if err := nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) }) // cancelled: stop waiting now
	defer stop()
	rc := &RawConn{Conn: protocol.NewConn(nc, clientID), Versions: map[protocol.ApiKey]int16{}}
	rc.SetVersions(map[protocol.ApiKey]int16{protocol.ApiVersions: 0})
	m, err := rc.RoundTrip(&apiversions.Request{})
	if err != nil { // with TLS 1.3 a refused client certificate shows here
		return nil, c.Explain(fmt.Errorf("asking %s for its API versions: %w", addr, err))
	}
	res := m.(*apiversions.Response)
	if res.ErrorCode != 0 {
		return nil, fmt.Errorf("asking %s for its API versions: %w", addr, kafka.Error(res.ErrorCode))
	}
	for _, k := range res.ApiKeys {
		rc.Versions[protocol.ApiKey(k.ApiKey)] = k.MaxVersion
	}
	if c.SASL != nil {
		if err := rc.authenticate(ctx, c); err != nil {
			return nil, c.Explain(fmt.Errorf("SASL %s with %s: %w", c.SASL.Name(), addr, err))
		}
	}
	if !stop() {
		return nil, ctx.Err()
	}
	return rc, nc.SetDeadline(time.Time{})
}

// authenticate runs c's SASL mechanism over SaslHandshake version 1 and
// SaslAuthenticate version 0.
func (rc *RawConn) authenticate(ctx context.Context, c Conn) error {
	if v, ok := rc.Versions[protocol.SaslHandshake]; !ok || v < 1 {
		return fmt.Errorf("the broker has no SaslHandshake version 1 (Kafka 1.0 and later)")
	}
	rc.SetVersions(map[protocol.ApiKey]int16{protocol.SaslHandshake: 1, protocol.SaslAuthenticate: 0})
	m, err := rc.RoundTrip(&saslhandshake.Request{Mechanism: c.SASL.Name()})
	if err != nil {
		return err
	}
	if code := m.(*saslhandshake.Response).ErrorCode; code != 0 {
		return kafka.Error(code)
	}
	sess, state, err := c.SASL.Start(ctx)
	if err != nil {
		return err
	}
	for done := false; !done; {
		m, err := rc.RoundTrip(&saslauthenticate.Request{AuthBytes: state})
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// a broker may end a failed exchange by closing the connection
			return fmt.Errorf("%w: the broker closed the connection", kafka.SASLAuthenticationFailed)
		}
		if err != nil {
			return err
		}
		res := m.(*saslauthenticate.Response)
		if res.ErrorCode != 0 {
			return fmt.Errorf("%w: %s", kafka.Error(res.ErrorCode), res.ErrorMessage)
		}
		if done, state, err = sess.Next(ctx, res.AuthBytes); err != nil {
			return err
		}
	}
	return nil
}
