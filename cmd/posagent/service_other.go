//go:build !windows

package main

import (
	"context"
	"errors"
)

// runningAsService is false off Windows: systemd runs "posagent run" as an
// ordinary process.
func runningAsService() bool { return false }

func runService(func(ctx context.Context) error) error {
	return errors.New("not a Windows service")
}

// manageService explains where the service files are on Linux.
func manageService(Streams, string, string) error {
	return usageErrorf("posagent service manages the Windows service; on Linux install etc/posagent.service with systemd (see README, \"Running as a service\")")
}
