package ingest

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// claims are the registered claims of a bearer token, read strictly: exp,
// nbf and iat must be JSON numbers (RFC 7519's NumericDate), never strings
// such as "1700000000", which golang-jwt would otherwise take, and must lie
// from 1970 to the end of year 9999.
type claims struct {
	jwt.RegisteredClaims
	// These shadow the embedded fields of the same JSON names (the
	// shallower field wins in encoding/json).
	ExpiresAt *numericDate `json:"exp,omitempty"`
	NotBefore *numericDate `json:"nbf,omitempty"`
	IssuedAt  *numericDate `json:"iat,omitempty"`
}

// maxNumericDate is the last second of year 9999.
const maxNumericDate = 253402300799

var errNumericDate = errors.New("a date claim (exp, nbf, iat) must be a JSON number of seconds from 1970 to year 9999")

// numericDate is a NumericDate that refuses strings and out-of-range
// numbers.
type numericDate struct{ jwt.NumericDate }

// UnmarshalJSON reads b, which encoding/json has checked is one JSON value.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] < '0' || b[0] > '9') && b[0] != '-' {
		return errNumericDate // a string, null, true, an object…
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > maxNumericDate {
		return errNumericDate
	}
	sec, frac := math.Modf(f)
	d.NumericDate = *jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9)))
	return nil
}

func (d *numericDate) get() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &d.NumericDate
}

func (c claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.get(), nil }
func (c claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.get(), nil }
func (c claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.get(), nil }
