// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/testutil"
)

// redisCluster is a real three-master Redis Cluster on loopback, owned by
// one test. Tests fail (not skip) without redis-server and redis-cli: CI
// installs them (Debian/Ubuntu: redis-server, which pulls in redis-tools,
// the package that has redis-cli).
type redisCluster struct {
	Nodes []*redisServer
	Addrs []string
	// Client talks to the cluster for assertions.
	Client *redis.ClusterClient
}

func startRedisCluster(t testing.TB) *redisCluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found on PATH (apt-get install -y redis-tools): %v", err)
	}
	c := &redisCluster{}
	for range 3 {
		// The cluster bus gets a port of its own rather than port+10000,
		// which may be taken or out of range.
		_, bus, _ := strings.Cut(freeAddr(t), ":")
		n := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", bus, "--cluster-node-timeout", "5000")
		c.Nodes = append(c.Nodes, n)
		c.Addrs = append(c.Addrs, n.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.CommandContext(t.Context(), cli, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		for _, n := range c.Nodes {
			log, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
			t.Logf("%s log:\n%s", n.Addr, log)
		}
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must see the whole cluster before clients route by it.
	for _, n := range c.Nodes {
		node := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		testutil.WaitFor(t, 20*time.Second, "cluster_state:ok on "+n.Addr, func() bool {
			info, err := node.ClusterInfo(t.Context()).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return false
			}
			slots, err := node.ClusterSlots(t.Context()).Result()
			return err == nil && len(slots) == 3
		})
		_ = node.Close()
	}
	c.Client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = c.Client.Close() })
	return c
}

func clusterConfig(addrs []string, mode string) *config.LimitStore {
	return &config.LimitStore{FailureMode: mode, Redis: &config.RedisStore{
		Addresses: addrs, Timeout: config.Duration(2 * time.Second), KeyPrefix: "bulwark:",
	}}
}
