package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// DialTimeout bounds one connection to a broker, TLS handshake and SASL
// exchange included.
const DialTimeout = 10 * time.Second

// ErrRefused is wrapped by the errors of a broker that refused the
// connection's security: its TLS certificate did not verify, it refused
// the client's, or it refused the SASL mechanism or credentials. Retrying
// does not help.
var ErrRefused = errors.New("kafka refused the connection")

// Conn is a validated Security: what kafka-go needs to connect. The zero
// Conn is plaintext without authentication.
type Conn struct {
	// TLS is the client TLS configuration; nil means plaintext.
	TLS *tls.Config
	// SASL authenticates each connection; nil means none.
	SASL sasl.Mechanism
	// Dial, when set, opens the connections (an in-process broker's);
	// nil means the network.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	user string
}

// Secure reports whether c uses TLS or SASL.
func (c Conn) Secure() bool { return c.TLS != nil || c.SASL != nil }

// String describes c for logs, without secrets: "plaintext", "TLS",
// "TLS, SASL SCRAM-SHA-512 as emostream".
func (c Conn) String() string {
	s := "plaintext"
	if c.TLS != nil {
		s = "TLS"
		if len(c.TLS.Certificates) > 0 {
			s += " with a client certificate"
		}
		if c.TLS.InsecureSkipVerify {
			s += " (broker certificates NOT verified)"
		}
	}
	if c.SASL != nil {
		s += fmt.Sprintf(", SASL %s as %s", c.SASL.Name(), c.user)
	}
	return s
}

// Dialer returns a kafka-go Dialer (for kafka.Conn and consumer groups)
// that connects as c says.
func (c Conn) Dialer(clientID string) *kafka.Dialer {
	return &kafka.Dialer{ClientID: clientID, Timeout: DialTimeout, DualStack: true, TLS: c.TLS, SASLMechanism: c.SASL, DialFunc: c.Dial}
}

// Transport returns a kafka-go Transport (for kafka.Client and
// kafka.Writer) that connects as c says; the caller may set its other
// fields before first use.
func (c Conn) Transport(clientID string) *kafka.Transport {
	return &kafka.Transport{ClientID: clientID, DialTimeout: DialTimeout, TLS: c.TLS, SASL: c.SASL, Dial: c.Dial}
}

// Explain wraps err, an error of talking to Kafka through c, with
// ErrRefused and what to check when it says the broker refused c's
// security; other errors it returns as they are.
func (c Conn) Explain(err error) error {
	if err == nil || errors.Is(err, ErrRefused) {
		return err
	}
	var (
		unknownCA   x509.UnknownAuthorityError
		badHost     x509.HostnameError
		invalid     x509.CertificateInvalidError
		verify      *tls.CertificateVerificationError
		remote      *net.OpError
		notTLS      tls.RecordHeaderError
		mechName, u = "", c.user
	)
	if c.SASL != nil {
		mechName = c.SASL.Name()
	}
	switch {
	case c.SASL != nil && errors.Is(err, kafka.SASLAuthenticationFailed):
		return fmt.Errorf("%w: SASL %s authentication as %q failed (wrong user or password?): %w", ErrRefused, mechName, u, err)
	case c.SASL != nil && errors.Is(err, kafka.UnsupportedSASLMechanism):
		return fmt.Errorf("%w: the broker does not offer SASL %s: %w", ErrRefused, mechName, err)
	case errors.As(err, &unknownCA), errors.As(err, &badHost), errors.As(err, &invalid), errors.As(err, &verify):
		return fmt.Errorf("%w: the broker's TLS certificate did not verify (check the CA file and server name): %w", ErrRefused, err)
	case c.TLS != nil && errors.As(err, &remote) && remote.Op == "remote error": // a TLS alert
		return fmt.Errorf("%w: the broker refused the TLS handshake (does it require a client certificate, or not trust ours?): %w", ErrRefused, err)
	case c.TLS != nil && errors.As(err, &notTLS):
		return fmt.Errorf("%w: the broker does not speak TLS on this port: %w", ErrRefused, err)
	}
	return err
}

// Check connects to the first of brokers that answers, as the stages do,
// TLS handshake and SASL exchange included. It returns nil once one
// accepted the connection, an error wrapping ErrRefused (with what to
// check) as soon as one refused its security, and otherwise the last
// broker's error (Kafka unreachable: the caller may go on and retry).
func (c Conn) Check(ctx context.Context, brokers []string, clientID string) error {
	err := errors.New("no brokers")
	d := c.Dialer(clientID)
	for _, b := range brokers {
		if err = c.Explain(roundTrip(ctx, d, b)); err == nil {
			return nil
		}
		if errors.Is(err, ErrRefused) {
			return fmt.Errorf("connecting to kafka at %s: %w", b, err)
		}
	}
	return fmt.Errorf("connecting to kafka at %v: %w", brokers, err)
}

// CheckAtStart is Check as a stage runs it before it starts, when c is
// secured (else it does nothing): within DialTimeout, it returns the
// brokers' refusal of c's TLS or SASL (wrapping ErrRefused), so that the
// stage stops at once with what to check instead of retrying forever. Any
// other failure, Kafka not reachable yet, is only logged to log: the
// stage retries it.
func (c Conn) CheckAtStart(ctx context.Context, brokers []string, clientID string, log *slog.Logger) error {
	if !c.Secure() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	err := c.Check(ctx, brokers, clientID)
	switch {
	case errors.Is(err, ErrRefused):
		return err
	case err != nil:
		log.Warn("kafka not reachable yet", "security", c.String(), "err", err)
	default:
		log.Info("kafka reachable", "brokers", brokers, "security", c.String())
	}
	return nil
}

// roundTrip connects to broker and asks its API versions: with TLS 1.3 a
// broker refuses a client certificate only after the handshake, and a
// plaintext client learns that a broker wants TLS only when it answers.
func roundTrip(ctx context.Context, d *kafka.Dialer, broker string) error {
	conn, err := d.DialContext(ctx, "tcp", broker)
	if err != nil {
		return err
	}
	defer conn.Close()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(DialTimeout)
	}
	_ = conn.SetDeadline(dl)
	_, err = conn.ApiVersions()
	return err
}
