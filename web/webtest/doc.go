// Package webtest starts Debian's Chromium, headless, for browser tests of
// the web client. It reads the CHROMIUM and CI environment variables and
// writes only into the test's temporary directory.
//
// Without Chromium a test skips with the install command, except when CI=true,
// where it fails.
package webtest
