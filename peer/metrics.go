package peer

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus collectors.
type metrics struct {
	requests      *prometheus.CounterVec   // direction, result
	latency       *prometheus.HistogramVec // direction, op
	corrupt       prometheus.Counter
	refused       prometheus.Counter
	pushed        prometheus.Counter
	servedBytes   prometheus.Counter
	receivedBytes prometheus.Counter
	cacheHits     prometheus.Counter
	hedged        prometheus.Counter
	wideLookups   prometheus.Counter
	repairPass    prometheus.Histogram
	gauges        []prometheus.Collector
}

func newMetrics(n *Node) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshfs_block_requests_total", Help: "Block-protocol requests by direction (in, out) and result.",
		}, []string{"direction", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "meshfs_block_request_seconds", Help: "Block-protocol request latency by direction and op.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"direction", "op"}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshfs_corrupt_blocks_total", Help: "Blocks received whose bytes did not match their CID (dropped).",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshfs_block_requests_refused_total", Help: "Inbound requests refused because the peer was over its limit.",
		}),
		pushed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshfs_blocks_pushed_total", Help: "Blocks stored with a write quorum by this node.",
		}),
		servedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshfs_served_bytes_total", Help: "Block bytes served to other peers.",
		}),
		receivedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshfs_received_bytes_total", Help: "Block bytes pushed here and stored.",
		}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshfs_cache_hits_total", Help: "Reads answered by the read cache.",
		}),
		hedged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshfs_hedged_requests_total", Help: "Extra get requests sent after the hedge delay.",
		}),
		wideLookups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshfs_wide_lookups_total", Help: "Reads that fell back to a DHT lookup beyond the home peers.",
		}),
		repairPass: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meshfs_repair_pass_seconds", Help: "Duration of repair passes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	gauge := func(name, help string, f func() float64) {
		m.gauges = append(m.gauges, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		m.gauges = append(m.gauges, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	storeStat := func(bytes bool) float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := n.store.Stat(ctx)
		if err != nil {
			return 0
		}
		if bytes {
			return float64(st.Bytes)
		}
		return float64(st.Blocks)
	}
	gauge("meshfs_store_blocks", "Blocks in the local durable store.", func() float64 { return storeStat(false) })
	gauge("meshfs_store_bytes", "Bytes of blocks in the local durable store.", func() float64 { return storeStat(true) })
	gauge("meshfs_cache_bytes", "Bytes of blocks in the read cache.", func() float64 { _, b := n.cache.stat(); return float64(b) })
	gauge("meshfs_peers_connected", "Connected peers.", func() float64 { return float64(len(n.host.Network().Peers())) })
	gauge("meshfs_routing_table_peers", "Peers in the DHT routing table.", func() float64 { return float64(n.dht.RoutingTable().Size()) })
	gauge("meshfs_repair_backlog", "Block copies the last repair pass found missing and could not push.", func() float64 {
		b, _, _ := n.repair.stat()
		return float64(b)
	})
	counter("meshfs_repair_passes_total", "Repair passes run.", func() float64 { return float64(n.repair.passes.Load()) })
	counter("meshfs_repair_pushed_total", "Block copies pushed by repair.", func() float64 { return float64(n.repair.pushed.Load()) })
	counter("meshfs_repair_dropped_total", "Local copies dropped by repair after R home peers confirmed.", func() float64 { return float64(n.repair.dropped.Load()) })
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{m.requests, m.latency, m.corrupt, m.refused, m.pushed, m.servedBytes,
		m.receivedBytes, m.cacheHits, m.hedged, m.wideLookups, m.repairPass}
	for _, c := range append(cs, m.gauges...) {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// observe records one request's outcome and latency.
func (m *metrics) observe(direction string, o op, d time.Duration, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		result = "timeout"
	default:
		result = "error"
	}
	m.requests.WithLabelValues(direction, result).Inc()
	m.latency.WithLabelValues(direction, o.String()).Observe(d.Seconds())
}
