"""The gateway's health as Prometheus metrics, served on loopback by default."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.records_committed = Counter(
            "pams_edge_records_committed",
            "Records committed to the SQLite buffer.",
            ["kind"],
            registry=r,
        )
        self.records_synced = Counter(
            "pams_edge_records_synced",
            "Records the cloud acknowledged.",
            registry=r,
        )
        self.records_evicted = Counter(
            "pams_edge_records_evicted",
            "Telemetry evicted from the buffer by its bounds, reported as gaps.",
            registry=r,
        )
        self.records_set_aside = Counter(
            "pams_edge_records_set_aside",
            "Records the cloud refused as invalid, set aside and reported as gaps.",
            registry=r,
        )
        self.batches_sent = Counter(
            "pams_edge_batches_sent", "Batches the cloud acknowledged.", registry=r
        )
        self.uplink_failures = Counter(
            "pams_edge_uplink_failures",
            "Failed batch sends, by kind of failure.",
            ["reason"],
            registry=r,
        )
        self.buffer_depth = Gauge(
            "pams_edge_buffer_depth", "Records waiting in the buffer.", registry=r
        )
        self.oldest_unsent_age = Gauge(
            "pams_edge_oldest_unsent_age_seconds",
            "Age of the oldest record not yet acknowledged by the cloud.",
            registry=r,
        )
        self.last_seq = Gauge(
            "pams_edge_last_seq", "Last sequence number committed.", registry=r
        )
        self.device_online = Gauge(
            "pams_edge_device_online",
            "1 when the device answered its last poll or reported recently.",
            ["device", "protocol"],
            registry=r,
        )
        self.polls = Counter(
            "pams_edge_polls", "Poll cycles per device.", ["device"], registry=r
        )
        self.poll_overruns = Counter(
            "pams_edge_poll_overruns",
            "Poll cycles that took longer than the poll interval.",
            ["device"],
            registry=r,
        )
        self.cloud_reachable = Gauge(
            "pams_edge_cloud_reachable", "1 when the last send succeeded.", registry=r
        )
