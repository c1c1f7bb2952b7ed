package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// runningAsService reports whether the Windows service manager started us.
func runningAsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// runService runs run under the service manager until it asks us to stop;
// a stop or shutdown request cancels run's context (the bounded drain).
func runService(run func(ctx context.Context) error) error {
	return svc.Run(serviceName, &winService{run: run})
}

type winService struct {
	run func(ctx context.Context) error
	err error
}

func (s *winService) Execute(_ []string, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case r := <-reqs:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32((drainTimeout + 5*time.Second) / time.Millisecond)}
				cancel()
			}
		case err := <-done:
			s.err = err
			if err != nil {
				return true, 1
			}
			return false, 0
		}
	}
}

// manageService installs, removes, starts or stops the Windows service.
func manageService(s Streams, action, configPath string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service manager: %w (run as Administrator)", err)
	}
	defer m.Disconnect()
	switch action {
	case "install":
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		if sv, err := m.OpenService(serviceName); err == nil {
			sv.Close()
			return fmt.Errorf("service %q is already installed; uninstall it first", serviceName)
		}
		sv, err := m.CreateService(serviceName, exe, mgr.Config{
			DisplayName: "posagent Alipay checkout agent",
			Description: "Charges register orders with Alipay payment codes from the barcode scanner.",
			StartType:   mgr.StartAutomatic,
		}, "run", "--config", configPath)
		if err != nil {
			return fmt.Errorf("install service: %w", err)
		}
		defer sv.Close()
		// Restart after 5 s on failure; reset the failure count after a day.
		if err := sv.SetRecoveryActions([]mgr.RecoveryAction{
			{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
			{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
			{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		}, 86400); err != nil {
			return fmt.Errorf("service recovery actions: %w", err)
		}
		fmt.Fprintf(s.Stdout, "installed service %q: %s run --config %s\nstart it with: posagent service start\n", serviceName, exe, configPath)
		return nil
	}
	sv, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %q: %w (is it installed?)", serviceName, err)
	}
	defer sv.Close()
	switch action {
	case "uninstall":
		if err := sv.Delete(); err != nil {
			return fmt.Errorf("uninstall: %w", err)
		}
		fmt.Fprintf(s.Stdout, "removed service %q\n", serviceName)
	case "start":
		if err := sv.Start(); err != nil {
			return fmt.Errorf("start: %w", err)
		}
		fmt.Fprintf(s.Stdout, "started service %q\n", serviceName)
	case "stop":
		st, err := sv.Control(svc.Stop)
		if err != nil {
			return fmt.Errorf("stop: %w", err)
		}
		deadline := time.Now().Add(drainTimeout + 10*time.Second)
		for st.State != svc.Stopped && time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
			if st, err = sv.Query(); err != nil {
				return fmt.Errorf("stop: %w", err)
			}
		}
		if st.State != svc.Stopped {
			return fmt.Errorf("service %q did not stop within %s", serviceName, drainTimeout+10*time.Second)
		}
		fmt.Fprintf(s.Stdout, "stopped service %q\n", serviceName)
	}
	return nil
}
