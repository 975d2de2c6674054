//! `--metrics ADDR`: the status document in Prometheus' text exposition format, over HTTP.
//!
//! Every scrape asks the daemon's loop for the same `Status` that `xvrrp status` shows, so the
//! two never disagree. Only `GET /metrics` is served; requests are size- and time-limited like
//! the control socket's, and a connection is served by its own task.

use std::{collections::BTreeMap, fmt::Write as _, net::SocketAddr, time::Duration};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot},
};

use super::control::{Request, Status};

/// The request line and headers of a scrape fit in this; longer requests are refused.
const MAX_REQUEST: u64 = 4096;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Binds `addr` and serves scrapes until the task is aborted.
pub async fn serve(
    addr: SocketAddr,
    requests: mpsc::Sender<Request>,
) -> Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics listener on {addr}"))?;
    Ok(tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(scrape(stream, requests.clone()));
                }
                Err(e) => {
                    tracing::warn!("metrics listener: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }))
}

async fn scrape(stream: TcpStream, requests: mpsc::Sender<Request>) {
    if let Err(e) = scrape_one(stream, requests).await {
        tracing::debug!("metrics connection: {e:#}");
    }
}

async fn scrape_one(stream: TcpStream, requests: mpsc::Sender<Request>) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
    let mut line = String::new();
    tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line))
        .await
        .context("request timed out")??;
    let response = if line.starts_with("GET /metrics ") || line.trim_end() == "GET /metrics" {
        let (tx, rx) = oneshot::channel();
        requests.send(Request::Status(tx)).await?;
        let body = render(&rx.await?);
        format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.0 404 Not Found\r\nContent-Length: 19\r\nConnection: close\r\n\r\nonly /metrics here\n"
            .to_owned()
    };
    write.write_all(response.as_bytes()).await?;
    write.shutdown().await?;
    Ok(())
}

/// The exposition text: one family per fact, the instance identified by its labels.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "xvrrp_instance_state",
        "gauge",
        "1 for the state the instance is in",
    );
    for i in &status.instances {
        let l = instance_labels(&i.name, &i.interface, i.vrid, &i.family);
        let _ = writeln!(
            out,
            "xvrrp_instance_state{{{l},state=\"{}\"}} 1",
            escape(&i.state)
        );
    }
    family(
        &mut out,
        "xvrrp_instance_priority",
        "gauge",
        "base and effective priority",
    );
    for i in &status.instances {
        let l = instance_labels(&i.name, &i.interface, i.vrid, &i.family);
        let _ = writeln!(
            out,
            "xvrrp_instance_priority{{{l},kind=\"base\"}} {}",
            i.base_priority
        );
        let _ = writeln!(
            out,
            "xvrrp_instance_priority{{{l},kind=\"effective\"}} {}",
            i.effective_priority
        );
    }
    family(
        &mut out,
        "xvrrp_instance_last_advert_seconds",
        "gauge",
        "age of the current master's last advert",
    );
    for i in &status.instances {
        if let Some(ms) = i.last_advert_ms {
            let l = instance_labels(&i.name, &i.interface, i.vrid, &i.family);
            let _ = writeln!(
                out,
                "xvrrp_instance_last_advert_seconds{{{l}}} {:.3}",
                ms as f64 / 1000.0
            );
        }
    }
    family(
        &mut out,
        "xvrrp_instance_events_total",
        "counter",
        "adverts sent and received, transitions to master, discards by reason",
    );
    for i in &status.instances {
        let l = instance_labels(&i.name, &i.interface, i.vrid, &i.family);
        counters(
            &mut out,
            "xvrrp_instance_events_total",
            &l,
            "event",
            &i.counters,
        );
    }
    family(
        &mut out,
        "xvrrp_socket_packets_total",
        "counter",
        "datagrams the raw VRRP socket refused, by reason",
    );
    for s in &status.sockets {
        let l = format!("interface=\"{}\"", escape(&s.interface));
        counters(
            &mut out,
            "xvrrp_socket_packets_total",
            &l,
            "reason",
            &s.counters,
        );
    }
    family(
        &mut out,
        "xvrrp_xdp_packets_total",
        "counter",
        "what the XDP program did with adverts and VIP frames (redirected, dropped), by outcome",
    );
    for x in &status.xdp {
        let l = format!(
            "interface=\"{}\",mode=\"{}\"",
            escape(&x.interface),
            escape(&x.mode)
        );
        counters(
            &mut out,
            "xvrrp_xdp_packets_total",
            &l,
            "outcome",
            &x.counters,
        );
    }
    family(
        &mut out,
        "xvrrp_xdp_redirect_possible",
        "gauge",
        "1 if a planned handover can redirect frames out of the interface; 0 if what XDP sends \
         back out of it is dropped (a veth whose peer has neither an XDP program nor GRO)",
    );
    for x in &status.xdp {
        let _ = writeln!(
            out,
            "xvrrp_xdp_redirect_possible{{interface=\"{}\",mode=\"{}\"}} {}",
            escape(&x.interface),
            escape(&x.mode),
            u8::from(!x.xdp_tx_dropped)
        );
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn instance_labels(name: &str, interface: &str, vrid: u8, family: &str) -> String {
    format!(
        "instance=\"{}\",interface=\"{}\",vrid=\"{vrid}\",family=\"{}\"",
        escape(name),
        escape(interface),
        escape(family)
    )
}

fn counters(out: &mut String, metric: &str, labels: &str, key: &str, c: &BTreeMap<String, u64>) {
    for (k, v) in c {
        let _ = writeln!(out, "{metric}{{{labels},{key}=\"{}\"}} {v}", escape(k));
    }
}

/// Label values escape backslash, double quote and newline (the exposition format's rules);
/// instance names come from the operator's configuration.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::control::{InstanceStatus, SocketStatus, XdpStatus};

    fn status() -> Status {
        Status {
            instances: vec![InstanceStatus {
                name: "VI_\"1\"".into(),
                interface: "eth0".into(),
                vrid: 51,
                family: "IPv4".into(),
                state: "MASTER".into(),
                base_priority: 100,
                effective_priority: 95,
                master: Some("192.0.2.1".into()),
                last_advert_ms: Some(1250),
                counters: BTreeMap::from([("sent".into(), 7), ("became_master".into(), 1)]),
                handover: None,
            }],
            sockets: vec![SocketStatus {
                interface: "eth0".into(),
                source: "192.0.2.1".into(),
                counters: BTreeMap::from([("bad_checksum".into(), 2)]),
            }],
            xdp: vec![XdpStatus {
                interface: "eth0".into(),
                mode: "native".into(),
                xdp_tx_dropped: true,
                pinned: true,
                counters: BTreeMap::from([("absorbed".into(), 40)]),
                vips: Vec::new(),
            }],
        }
    }

    #[test]
    fn renders_every_fact_with_escaped_labels() {
        let text = render(&status());
        let l = r#"instance="VI_\"1\"",interface="eth0",vrid="51",family="IPv4""#;
        for line in [
            format!("xvrrp_instance_state{{{l},state=\"MASTER\"}} 1"),
            format!("xvrrp_instance_priority{{{l},kind=\"base\"}} 100"),
            format!("xvrrp_instance_priority{{{l},kind=\"effective\"}} 95"),
            format!("xvrrp_instance_last_advert_seconds{{{l}}} 1.250"),
            format!("xvrrp_instance_events_total{{{l},event=\"sent\"}} 7"),
            format!("xvrrp_instance_events_total{{{l},event=\"became_master\"}} 1"),
            "xvrrp_socket_packets_total{interface=\"eth0\",reason=\"bad_checksum\"} 2".into(),
            "xvrrp_xdp_packets_total{interface=\"eth0\",mode=\"native\",outcome=\"absorbed\"} 40"
                .into(),
            "xvrrp_xdp_redirect_possible{interface=\"eth0\",mode=\"native\"} 0".into(),
        ] {
            assert!(text.lines().any(|x| x == line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn every_family_is_declared_once_before_its_samples() {
        let text = render(&status());
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split_whitespace().next().unwrap();
                assert!(
                    !declared.contains(&name.to_owned()),
                    "{name} declared twice"
                );
                declared.push(name.to_owned());
            } else if !line.starts_with('#') {
                let name = line.split('{').next().unwrap();
                assert_eq!(declared.last().map(String::as_str), Some(name), "{line}");
            }
        }
    }
}
