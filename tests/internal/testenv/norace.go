//go:build !race

package testenv

// Race is true when the tests run with -race.
const Race = false
