// Package arch holds the tests that keep the package map of docs/ARCHITECTURE.md true: who
// may import whom, the one place that starts the system, and the length of functions.
package arch
