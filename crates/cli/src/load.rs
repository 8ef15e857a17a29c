//! A load generator for the HTTP API, kept dependency-free on purpose: plain HTTP/1.1 over
//! keep-alive TCP connections, one OS thread per connection, every request timed. Used by
//! `ansim load` and by the crash test (which needs to know exactly which events were
//! acknowledged).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request to send: the affiliate's key and the event JSON.
#[derive(Clone)]
pub struct Request {
    /// Bearer key.
    pub key: Arc<str>,
    /// Event id (to report what was acknowledged).
    pub event_id: String,
    /// JSON body.
    pub body: String,
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Requests answered 200.
    pub ok: usize,
    /// Requests answered otherwise, or failed on the connection.
    pub failed: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of every 200 response, microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Event ids answered 200, in no particular order.
    pub acknowledged: Vec<String>,
}

impl Report {
    /// The `q` quantile (0..=1) of latency in microseconds.
    pub fn quantile_us(&self, q: f64) -> u32 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        self.latencies_us[i]
    }

    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Reads one HTTP/1.1 response; returns its status and body.
fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<(u16, Vec<u8>)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok((status, body))
}

/// Sends `requests` over `connections` keep-alive connections, spread evenly over `addrs`
/// (several nodes: the client balances the load), at most `limit` long; `stop` ends the run
/// early (the crash test kills the server under load).
pub fn run(
    addrs: &[SocketAddr],
    requests: Vec<Request>,
    connections: usize,
    limit: Duration,
    stop: Arc<AtomicBool>,
) -> Report {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Mutex::new(Report::default()));
    let start = Instant::now();
    let threads: Vec<_> = (0..connections.max(1))
        .map(|k| {
            let (requests, next, shared, stop) = (requests.clone(), next.clone(), shared.clone(), stop.clone());
            let addr = addrs[k % addrs.len().max(1)];
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut acked = Vec::new();
                let mut failed = 0usize;
                let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
                loop {
                    if stop.load(Ordering::Relaxed) || start.elapsed() > limit {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(req) = requests.get(i) else { break };
                    if conn.is_none() {
                        match TcpStream::connect(addr) {
                            Ok(s) => {
                                let _ = s.set_nodelay(true);
                                let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                                match s.try_clone() {
                                    Ok(r) => conn = Some((s, BufReader::new(r))),
                                    Err(_) => {
                                        failed += 1;
                                        continue;
                                    }
                                }
                            }
                            Err(_) => {
                                failed += 1;
                                std::thread::sleep(Duration::from_millis(5));
                                continue;
                            }
                        }
                    }
                    let Some((w, r)) = conn.as_mut() else { continue };
                    let head = format!(
                        "POST /v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        req.key,
                        req.body.len()
                    );
                    let t = Instant::now();
                    let sent = w.write_all(head.as_bytes()).and_then(|_| w.write_all(req.body.as_bytes()));
                    match sent.and_then(|_| read_response(r)) {
                        Ok((200, _)) => {
                            lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                            acked.push(req.event_id.clone());
                        }
                        Ok(_) => failed += 1,
                        Err(_) => {
                            failed += 1;
                            conn = None;
                        }
                    }
                }
                let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                s.ok += lat.len();
                s.failed += failed;
                s.latencies_us.extend(lat);
                s.acknowledged.extend(acked);
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let mut report = std::mem::take(&mut *shared.lock().unwrap_or_else(|p| p.into_inner()));
    report.elapsed = start.elapsed();
    report.latencies_us.sort_unstable();
    report
}

/// Events the simulator spreads over about half a year at its default rate (for 2,000
/// subjects): more are generated at a proportionally higher rate.
const EVENTS_PER_HALF_YEAR: usize = 240_000;

/// Builds `n` requests from the traffic simulator: each event goes to its affiliate's key,
/// with an id unique to this run (`run` is mixed in) so repeated runs never hit idempotency.
pub fn simulated_requests(
    keys: &std::collections::HashMap<String, String>,
    n: usize,
    run: i64,
) -> Result<Vec<Request>, String> {
    use sim::{SimConfig, Simulator};
    let keys: std::collections::HashMap<&str, Arc<str>> =
        keys.iter().map(|(a, k)| (a.as_str(), Arc::from(k.as_str()))).collect();
    // The simulated clock advances with every event, and the service refuses events stamped
    // more than an hour ahead of its clock or older than its maximum age (400 days by
    // default). So the rate grows with the count (at most about half a year of traffic), and
    // the events are moved back by whole days until the last is before now (whole days keep
    // each event's hour, which the simulated traffic depends on).
    let now = app::now_ms();
    let scale = u32::try_from(n.div_ceil(EVENTS_PER_HALF_YEAR)).unwrap_or(u32::MAX).max(1);
    let base = SimConfig::default().peak_events_per_hour;
    let cfg = SimConfig {
        seed: run as u64,
        subjects: 2_000,
        start: domain::Timestamp(now),
        peak_events_per_hour: base.saturating_mul(scale),
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(cfg);
    let events: Vec<domain::Event> = (0..n).map(|_| sim.next_event().event).collect();
    let last = events.iter().map(|e| e.at.0).max().unwrap_or(now);
    const DAY: i64 = 86_400_000;
    let back = ((last - now + 60_000).max(0) as u64).div_ceil(DAY as u64) as i64 * DAY;
    let mut out = Vec::with_capacity(n);
    for mut e in events {
        let Some(key) = keys.get(e.affiliate.as_str()) else {
            return Err(format!("no key for affiliate {}", e.affiliate));
        };
        e.at = domain::Timestamp(e.at.0 - back);
        e.id = domain::EventId(format!("load{run:x}-{}", out.len()));
        out.push(Request { key: key.clone(), event_id: e.id.0.clone(), body: e.to_json() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulated requests are stamped in the past, the last within a day of now, each at its
    /// simulated hour of the day; however many are asked for, none is older than the service
    /// accepts.
    #[test]
    fn simulated_requests_end_before_now_and_keep_their_hour() {
        let keys: std::collections::HashMap<String, String> =
            sim::AFFILIATES.iter().map(|a| (a.to_string(), format!("key-{a}"))).collect();
        let now = app::now_ms();
        let reqs = simulated_requests(&keys, 3_000, 5).unwrap();
        let at = |r: &Request| domain::Event::from_json(&r.body, None).unwrap().at.0;
        let times: Vec<i64> = reqs.iter().map(at).collect();
        let (first, last) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
        assert!(last <= now, "no event in the future");
        assert!(now - last < 86_400_000 + 120_000, "the last within a day of now: {} ms before", now - last);
        assert!(now - first < 200 * 86_400_000, "none older than about half a year");
        // Moved by whole days: the first event keeps the hour the simulator gave it.
        let sim = sim::Simulator::new(sim::SimConfig {
            seed: 5,
            subjects: 2_000,
            start: domain::Timestamp(now),
            ..sim::SimConfig::default()
        })
        .next_event()
        .event
        .at
        .0;
        assert_eq!((times[0] - sim).rem_euclid(86_400_000), 0, "shifted by whole days");
    }
}
