package wire

import (
	"encoding/json"
	"fmt"
)

// decode unmarshals data, a JSON message of the kind what names, into a
// new T; its errors say "wire: <what>: ...". The Decode functions of the
// package's message types are built on it.
func decode[T any](what string, data []byte) (*T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("wire: %s: %w", what, err)
	}
	return &v, nil
}

// decodeMatch is decode for a message of one match, whose match_id (read
// by match) must pass CheckMatchID.
func decodeMatch[T any](what string, data []byte, match func(*T) string) (*T, error) {
	v, err := decode[T](what, data)
	if err != nil {
		return nil, err
	}
	if err := CheckMatchID(match(v)); err != nil {
		return nil, fmt.Errorf("wire: %s: match_id %w", what, err)
	}
	return v, nil
}
