//go:build windows

package scanner

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/tarm/serial"
)

// openSerial opens device (e.g. "COM3") with tarm/serial at baud, 8N1.
// Windows opens COM ports without sharing, so the hold is exclusive already:
// a second open fails with ERROR_ACCESS_DENIED.
func openSerial(device string, baud int, readTimeout time.Duration) (port, error) {
	p, err := serial.OpenPort(&serial.Config{Name: device, Baud: baud, ReadTimeout: readTimeout})
	if err != nil {
		if errors.Is(err, syscall.ERROR_ACCESS_DENIED) {
			return nil, fmt.Errorf("open %s: %w", device, ErrBusy)
		}
		return nil, fmt.Errorf("open %s: %w", device, err)
	}
	return newSerialPort(p, readTimeout, nil), nil
}
