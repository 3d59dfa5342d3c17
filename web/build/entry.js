// The part of the official NATS JavaScript client (@nats-io/nats-core) that
// web/static/app.js uses. build.sh bundles it into ../static/vendor/nats.js.
export { wsconnect, headers, Empty } from "@nats-io/nats-core";
