package sandbox_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// Wiring `posagent sandbox --listen ADDR --dir DIR` with the fault flags.
func Example() {
	fs := flag.NewFlagSet("sandbox", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9090", "address to serve gateway.do on")
	dir := fs.String("dir", "sandbox-keys", "key folder")
	var faults sandbox.Faults
	faults.RegisterFlags(fs)
	fs.Parse([]string{"--listen", "127.0.0.1:0", "--dir", filepath.Join(os.TempDir(), "posagent-sandbox-example"), "--fail-20000", "0.1"})
	if err := faults.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	s, err := sandbox.New(sandbox.Config{Dir: *dir, Faults: faults})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := s.Start(*listen); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer s.Close()
	s.Info(os.Stdout) // gateway:, app_id:, pay_pid:, app_private_key:, ...

	// In process (posagent run with gateway = "sandbox"): a wired client.
	c := s.Client()
	_, err = c.TradeQuery(context.Background(), gateway.TradeQueryRequest{OutTradeNo: "T1"})
	fmt.Println(gateway.SubCodeOf(err))
}
