//go:build race

package testenv

// Race is true when the tests run with -race; the daemon they build then
// runs under the race detector too, and starts several times slower.
const Race = true
