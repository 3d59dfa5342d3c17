// Package dirlock keeps two processes from writing one data directory. The
// embedded Kafka broker (internal/broker) and every nats-server with a
// JetStream store (fanout: hub and leaf) take an exclusive lock on a file in
// the directory they write before they open it, and hold it until they stop:
// a second "emostream up", "kafka", "hub" or "leaf" on the same directory
// exits at once with one line naming the directory and the holder.
//
// The lock is flock(2) on Linux, macOS and the BSDs, and an unshared open of
// the file on Windows; the kernel drops it when the holder dies, however it
// dies, so a lock left by a killed process is simply taken over. The file
// itself stays in the directory and holds the holder's PID and command line
// (secrets redacted), for the message; its text never decides anything.
// Elsewhere the lock is not enforced.
package dirlock
