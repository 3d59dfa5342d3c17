package wire

import (
	"errors"
	"fmt"
)

// Codes of the errors a client sees. They are the whole table: internal
// errors are mapped onto one of these before they reach a client.
const (
	CodeBadJSON             = "bad_json"             // 400: not valid JSON, or not an object or array of objects
	CodeBadField            = "bad_field"            // 400: a field is missing, of the wrong type, too long, or unknown
	CodeUnknownEmoji        = "unknown_emoji"        // 400: emoji_type is not in the allow-list
	CodeTooManyEvents       = "too_many_events"      // 400: more than MaxBatch events, or none
	CodeBodyTooLarge        = "body_too_large"       // 413
	CodeUnsupportedMedia    = "unsupported_media"    // 415: Content-Type is not application/json, or a Content-Encoding not accepted
	CodeRateLimited         = "rate_limited"         // 429
	CodeUnavailable         = "kafka_unavailable"    // 503
	CodeNotFound            = "not_found"            // 404
	CodeUnknownMatch        = "unknown_match"        // 404: match_id is not in the match registry
	CodeMatchNotLive        = "match_not_live"       // 409: the match is scheduled or ended, not live
	CodeUnauthorized        = "unauthorized"         // 401: a missing or wrong bearer token
	CodeForbidden           = "forbidden"            // 403: a valid token for another user_id, or a browser origin not allowed
	CodeConflict            = "conflict"             // 409: the registry refused a change (exists, wrong state)
	CodeRegistryUnavailable = "registry_unavailable" // 503: the match registry is not loaded or unreachable
	CodeStageFailing        = "stage_failing"        // 503, /readyz only: a later stage cannot publish
	CodeMethodNotAllowed    = "method_not_allowed"   // 405
	CodeInternal            = "internal"             // 500
	CodeBadEncoding         = "bad_encoding"         // 400: a gzip body that does not inflate (corrupt or truncated)
	CodeBurstExceeded       = "burst_exceeded"       // 400: more events of one user (or client IP prefix) than its burst: never passes
	CodeTooManyConnections  = "too_many_connections" // 503: the connection cap was reached; written before closing
)

// ErrInvalid is wrapped by every *RequestError, so callers can test with
// errors.Is(err, wire.ErrInvalid).
var ErrInvalid = errors.New("wire: invalid event")

// RequestError says why a request was refused: a code from the table above,
// a message for people, and the index of the first bad event (-1 when the
// error is not about one event).
type RequestError struct {
	Code    string
	Message string
	Index   int
}

func (e *RequestError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("%s: event %d: %s", e.Code, e.Index, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Unwrap makes every RequestError match ErrInvalid.
func (e *RequestError) Unwrap() error { return ErrInvalid }

func reqErr(code string, index int, format string, args ...any) *RequestError {
	return &RequestError{Code: code, Message: fmt.Sprintf(format, args...), Index: index}
}
