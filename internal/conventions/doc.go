// Package conventions holds the tests that keep the module's shape and
// vocabulary as docs/design.md "Conventions" describes them: internal/ is
// one level of foundations that the stages import, the import graph there
// is the code's, one concept has one name (the names table), every package
// with a Config has ErrConfig, and a client error's constant is named
// after its code. It has no code; it reads the module's real imports with
// go list and its source with go/ast.
package conventions
