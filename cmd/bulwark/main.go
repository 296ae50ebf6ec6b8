// SPDX-License-Identifier: Apache-2.0

// Command bulwark is the AI gateway. Everything lives in internal/cli.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bulwarkai/bulwark/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, cli.ErrUsage) || err.Error() != cli.ErrUsage.Error() {
			fmt.Fprintln(os.Stderr, "bulwark:", err)
		}
		os.Exit(1)
	}
}
