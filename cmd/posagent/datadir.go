package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// dataDirError words a failure to create data_dir or open posagent.db in
// it. A folder posagent may not write (permissions, a read-only file system,
// as under the unit's ProtectSystem=strict when data_dir is outside its
// ReadWritePaths) or a path that is not a folder is a setup problem: it is
// returned as a *ConfigError, so posagent exits 2 like on a locked database
// and systemd does not restart it in a loop (RestartPreventExitStatus=2).
// Other errors (a damaged file) are returned as they are, with the path
// added only when the error does not already name it.
func dataDirError(cfg Config, path string, err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		err = fmt.Errorf("open %s: %w", path, err)
	}
	if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.ENOTDIR) {
		return err
	}
	msg := err.Error()
	if errors.Is(err, syscall.EROFS) {
		msg += " (under systemd, data_dir must be inside the unit's ReadWritePaths)"
	}
	name := cfg.src.name
	if cfg.File == "" {
		name = "" // built-in defaults
	}
	return &ConfigError{File: name, Line: cfg.src.lines["terminal.data_dir"], Key: "terminal.data_dir", Msg: msg, Err: err}
}
