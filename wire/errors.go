package wire

import (
	"errors"
	"fmt"
	"net/http"
)

// Codes of the errors a client sees, the "code" of the JSON error body
// {"error":{"code","message","index"}}. ClientErrors gives each its HTTP
// status and meaning.
const (
	CodeBadJSON             = "bad_json"
	CodeBadField            = "bad_field"
	CodeUnknownEmoji        = "unknown_emoji"
	CodeTooManyEvents       = "too_many_events"
	CodeBadEncoding         = "bad_encoding"
	CodeBurstExceeded       = "burst_exceeded"
	CodeUnauthorized        = "unauthorized"
	CodeForbidden           = "forbidden"
	CodeNotFound            = "not_found"
	CodeUnknownMatch        = "unknown_match"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeMatchNotLive        = "match_not_live"
	CodeConflict            = "conflict"
	CodeBodyTooLarge        = "body_too_large"
	CodeUnsupportedMedia    = "unsupported_media"
	CodeRateLimited         = "rate_limited"
	CodeInternal            = "internal"
	CodeKafkaUnavailable    = "kafka_unavailable"
	CodeRegistryUnavailable = "registry_unavailable"
	CodeStageFailing        = "stage_failing"
	CodeTooManyConnections  = "too_many_connections"
	CodeBadTimelineQuery    = "bad_timeline_query"
	CodeBadMatchesQuery     = "bad_matches_query"
	CodeBadVideoTS          = "bad_video_ts"
)

// ClientError is one row of the table of errors a client sees.
type ClientError struct {
	// Code is the error body's "code", and the code label of
	// emostream_ingest_requests_rejected_total.
	Code string
	// Status is the HTTP status the error is answered with.
	Status int
	// Meaning says when a client gets it.
	Meaning string
}

// ClientErrors is the whole table, in order of status: internal errors are
// mapped onto one of these before they reach a client (docs/api.md,
// "Errors", lists the same rows).
var ClientErrors = []ClientError{
	{CodeBadJSON, http.StatusBadRequest, "not valid JSON, or not an object or array of objects"},
	{CodeBadField, http.StatusBadRequest, "a field is missing, of the wrong type, too long, or unknown"},
	{CodeUnknownEmoji, http.StatusBadRequest, "emoji_type is not in the allow-list"},
	{CodeTooManyEvents, http.StatusBadRequest, "more than MaxBatch events, or none"},
	{CodeBadEncoding, http.StatusBadRequest, "a gzip body that does not inflate (corrupt or truncated)"},
	{CodeBadVideoTS, http.StatusBadRequest, "video_ts is not a positive whole number, is ahead of the server's clock by more than MaxVideoLead (2 s) or behind it by more than MaxVideoLag (60 s)"},
	{CodeBadTimelineQuery, http.StatusBadRequest, "a timeline query's from, to, step, by or format is malformed, to is before from, or the range has too many steps"},
	{CodeBadMatchesQuery, http.StatusBadRequest, "a match list's state, limit or cursor is malformed or out of range"},
	{CodeBurstExceeded, http.StatusBadRequest, "more events of one user (or client IP prefix) than its burst: never passes"},
	{CodeUnauthorized, http.StatusUnauthorized, "a missing or wrong bearer token"},
	{CodeForbidden, http.StatusForbidden, "a valid token for another user_id, or a browser origin not allowed"},
	{CodeNotFound, http.StatusNotFound, "no such path"},
	{CodeUnknownMatch, http.StatusNotFound, "match_id is not in the match registry"},
	{CodeMethodNotAllowed, http.StatusMethodNotAllowed, "the path takes another method"},
	{CodeMatchNotLive, http.StatusConflict, "the match is scheduled or ended, not live"},
	{CodeConflict, http.StatusConflict, "the registry refused a change (exists, wrong state)"},
	{CodeBodyTooLarge, http.StatusRequestEntityTooLarge, "the body, as sent or inflated, is over the body limit"},
	{CodeUnsupportedMedia, http.StatusUnsupportedMediaType, "Content-Type is not application/json, or a Content-Encoding not accepted"},
	{CodeRateLimited, http.StatusTooManyRequests, "over the user's or client network's rate; Retry-After says when to retry"},
	{CodeInternal, http.StatusInternalServerError, "a bug: logged"},
	{CodeKafkaUnavailable, http.StatusServiceUnavailable, "Kafka did not take the events in time; Retry-After: 1"},
	{CodeRegistryUnavailable, http.StatusServiceUnavailable, "the match registry is not loaded or unreachable"},
	{CodeStageFailing, http.StatusServiceUnavailable, "/readyz only: a later stage cannot publish"},
	{CodeTooManyConnections, http.StatusServiceUnavailable, "the connection cap was reached; written on the connection before it is closed"},
}

// HTTPStatus is the HTTP status of code in ClientErrors, or 500 for a code
// not in the table.
func HTTPStatus(code string) int {
	for _, e := range ClientErrors {
		if e.Code == code {
			return e.Status
		}
	}
	return http.StatusInternalServerError
}

// ErrInvalid is wrapped by every *RequestError, so callers can test with
// errors.Is(err, wire.ErrInvalid).
var ErrInvalid = errors.New("wire: invalid event")

// RequestError says why a request was refused: a code of ClientErrors,
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
