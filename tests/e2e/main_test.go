//go:build linux

package e2e_test

import (
	"os"
	"testing"

	"posagent/tests/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
