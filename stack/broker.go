package stack

import (
	"context"
	"log/slog"
	"strings"

	"github.com/ems120/ems120/streams"
)

// RunBroker is `ems120 broker`: the embedded Kafka-protocol broker as a process of its own,
// with its log in dir, until ctx is cancelled. Services can then be killed and restarted
// against a broker that lives on; the broker itself started again on the same dir finds what
// it held (kfake saves its state at a clean stop and reloads it at start).
func RunBroker(ctx context.Context, listen, dir string, log *slog.Logger) error {
	b, err := streams.StartBrokerIn(ctx, listen, dir)
	if err != nil {
		return err
	}
	defer b.Close()
	log.Info("ems120 broker listening", "addrs", strings.Join(b.Addrs(), ","), "dir", dir)
	<-ctx.Done()
	log.Info("ems120 broker stopping; its log stays in its directory", "dir", dir)
	return nil
}
