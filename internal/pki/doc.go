// Package pki is EmoStream's one certificate signer: it makes ECDSA P-256
// keys and X.509 certificates (a private CA, and the server and client
// certificates it signs), reads an existing CA from PEM files, and writes
// keys and certificates as PEM files all or nothing, keys mode 0600.
// "emostream certs" (cmd/emostream) and the tests' certificates
// (internal/testenv) use it; it imports the standard library only.
package pki
