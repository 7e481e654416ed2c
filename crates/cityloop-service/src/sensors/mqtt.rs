//! The MQTT subscriber of the sensor intake (rumqttc).
//!
//! It subscribes to `cityloop/<district>/+/telemetry` at QoS 1 with a persistent session
//! (`clean_session = false`, a fixed client id), so the broker keeps what devices publish
//! while cityloop is down and delivers it after the restart. Acknowledgements are manual:
//! a message is acknowledged only after its effects are committed (or it was dropped as
//! bad), so a crash before the commit means the broker delivers it again; the rules treat
//! a reading not later than the last one evaluated as stale, so a redelivery changes
//! nothing. A broker that is down at start-up or goes away later is retried with
//! exponential backoff (250 ms doubling to 30 s) while everything else keeps serving;
//! [`super::Intake::health`] says `degraded` meanwhile.
//!
//! The event loop only moves messages into a bounded queue; one worker evaluates them in
//! arrival order, so per-device order is kept.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;

use super::{BrokerState, IngestError};
use crate::{ServiceError, Services};

/// Largest MQTT packet the subscriber reads. Larger than the payload limit so that an
/// oversized payload is received, counted `too_large` and acknowledged rather than
/// breaking the connection (and being redelivered forever).
pub const MAX_PACKET_BYTES: usize = 8 * 1024 * 1024;
/// The first reconnection delay; it doubles up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Messages waiting for the worker before the event loop waits too.
const QUEUE: usize = 256;

/// Where and as whom to subscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// Fixed across restarts: the broker keeps the session under it.
    pub client_id: String,
    /// The `<district>` level of the topics subscribed to.
    pub district: String,
    pub keep_alive: Duration,
}

impl MqttConfig {
    /// From `mqtt://host[:port]` (port 1883 by default).
    pub fn from_url(url: &str, client_id: &str, district: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("mqtt://")
            .ok_or_else(|| format!("{url:?}: the broker URL must start with mqtt://"))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>().map_err(|_| format!("{url:?}: bad port"))?,
            ),
            None => (rest, 1883),
        };
        if host.is_empty() {
            return Err(format!("{url:?}: no host"));
        }
        if !cityloop_domain::sensor::valid_id(district) {
            return Err(format!(
                "{district:?}: a district is 1 to 64 characters of A-Z a-z 0-9 - _"
            ));
        }
        if client_id.is_empty() || client_id.len() > 64 {
            return Err("the MQTT client id is 1 to 64 characters".into());
        }
        Ok(MqttConfig {
            host: host.to_owned(),
            port,
            client_id: client_id.to_owned(),
            district: district.to_owned(),
            keep_alive: Duration::from_secs(10),
        })
    }

    pub fn filter(&self) -> String {
        format!("cityloop/{}/+/telemetry", self.district)
    }
}

/// Starts the subscriber and its worker; they run until the process ends.
pub fn spawn(svc: Services, cfg: MqttConfig) {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(cfg.keep_alive);
    opts.set_clean_session(false);
    opts.set_manual_acks(true);
    opts.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let (tx, rx) = mpsc::channel::<Publish>(QUEUE);
    svc.sensors.set_broker(BrokerState::Connecting, None);
    tokio::spawn(worker(svc.clone(), client.clone(), rx));
    let filter = cfg.filter();
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff = MIN_BACKOFF;
                    tracing::info!(session_present = ack.session_present, filter = %filter, "MQTT connected");
                    if let Err(e) = client.subscribe(filter.clone(), QoS::AtLeastOnce).await {
                        tracing::warn!(error = %e, "MQTT subscribe failed");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    // Connected once the subscription stands (messages are then kept).
                    svc.sensors.set_broker(BrokerState::Connected, None);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    svc.sensors
                        .set_broker(BrokerState::Down, Some(e.to_string()));
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "MQTT broker unreachable; sensor intake degraded");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    });
}

/// Evaluates messages in order and acknowledges each once it is settled.
async fn worker(svc: Services, client: AsyncClient, mut rx: mpsc::Receiver<Publish>) {
    while let Some(p) = rx.recv().await {
        let mut wait = MIN_BACKOFF;
        loop {
            match svc
                .ingest(super::Channel::Mqtt { topic: &p.topic }, &p.payload)
                .await
            {
                Ok(_) | Err(IngestError::Dropped(_)) => break,
                Err(IngestError::Service(
                    e @ (ServiceError::Unavailable(_) | ServiceError::Internal(_)),
                )) => {
                    // The store is away: keep the message (unacknowledged) and retry.
                    tracing::warn!(error = %e, topic = %p.topic, "sensor reading not stored; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
                Err(IngestError::Service(e)) => {
                    svc.sensors
                        .count_drop(cityloop_domain::sensor::DropReason::Refused);
                    tracing::warn!(error = %e, topic = %p.topic, sensor.reason = "refused", "sensor reading refused");
                    break;
                }
            }
        }
        if let Err(e) = client.ack(&p).await {
            tracing::warn!(error = %e, "MQTT ack not queued");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_or_say_what_is_wrong() {
        let c = MqttConfig::from_url("mqtt://127.0.0.1:1883", "cl", "410103").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 1883));
        assert_eq!(c.filter(), "cityloop/410103/+/telemetry");
        assert_eq!(
            MqttConfig::from_url("mqtt://broker", "cl", "d")
                .unwrap()
                .port,
            1883
        );
        assert!(MqttConfig::from_url("http://x", "cl", "d").is_err());
        assert!(MqttConfig::from_url("mqtt://x:99999", "cl", "d").is_err());
        assert!(MqttConfig::from_url("mqtt://x", "cl", "a/b").is_err());
    }
}
