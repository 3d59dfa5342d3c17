// Package docscheck holds the test that keeps the repository's documents
// self-contained: no reference to files outside the repository, and every
// relative link pointing at a file that exists.
package docscheck
