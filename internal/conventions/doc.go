// Package conventions holds the tests that keep the module's shape as
// docs/design.md "Conventions" describes it: internal/ is one level of
// foundations that the stages import, and nothing under it imports a
// stage. It has no code; it reads the module's real imports with go list.
package conventions
