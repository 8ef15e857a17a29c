//! A small Chrome DevTools Protocol client over `--remote-debugging-pipe` for the browser
//! tests: Debian's headless Chromium reads commands from its file descriptor 3 and writes
//! answers and events to 4, each a JSON text ended by a NUL byte. No WebSocket, no download,
//! no test tool of its own: the tests drive the real browser with the crates already here.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Headless Chromium that reaches nothing but the page it is given.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Debian's Chromium, or `ANSIM_CHROMIUM`.
pub fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ANSIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// A browser with one page attached.
pub struct Browser {
    child: Child,
    to: File,
    from: BufReader<File>,
    next: u64,
    session: String,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills two fresh descriptors that nothing else owns.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned here alone.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    /// Starts headless Chromium with a fresh profile in `profile` and opens a blank page of
    /// `width` × `height`.
    pub fn start(binary: &Path, profile: &Path, width: u32, height: u32) -> Browser {
        let (cmd_read, cmd_write) = pipe();
        let (out_read, out_write) = pipe();
        let (r, w) = (cmd_read.into_raw_fd(), out_write.into_raw_fd());
        let mut command = Command::new(binary);
        command
            .args(FLAGS)
            .args(["--disable-extensions", "--remote-debugging-pipe", "--lang=ko-KR"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (dup2, close) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        // SAFETY: the child has its copies; these ends are the parent's to close.
        unsafe {
            libc::close(r);
            libc::close(w);
        }
        let mut b = Browser {
            child,
            to: File::from(cmd_write),
            from: BufReader::new(File::from(out_read)),
            next: 0,
            session: String::new(),
        };
        let target = b.call_browser("Target.createTarget", json!({"url": "about:blank"}));
        let id = target["targetId"].as_str().expect("a target").to_string();
        let attached = b.call_browser("Target.attachToTarget", json!({"targetId": id, "flatten": true}));
        b.session = attached["sessionId"].as_str().expect("a session").to_string();
        b.call("Page.enable", json!({}));
        b.call("Runtime.enable", json!({}));
        // axe-core is injected by evaluation; the console's own policy allows no inline script.
        b.call("Page.setBypassCSP", json!({"enabled": true}));
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::from(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        loop {
            let mut buf = Vec::new();
            let n = self.from.read_until(0, &mut buf).expect("read from chromium");
            assert!(n > 0, "chromium closed the pipe during {method}");
            buf.pop();
            let v: Value = serde_json::from_slice(&buf).expect("JSON from chromium");
            if v["id"].as_u64() == Some(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method} failed: {e}");
                }
                return v["result"].clone();
            }
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(None, method, params)
    }

    /// A command to the page.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let s = self.session.clone();
        self.send(Some(&s), method, params)
    }

    /// Evaluates `js` in the page (awaiting a promise) and returns its value.
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true, "userGesture": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("script failed: {e}\n{js}");
        }
        r["result"]["value"].clone()
    }

    /// Runs `act` (which navigates: a link, a form) and waits until the new document has loaded.
    pub fn navigating(&mut self, act: &str) {
        self.eval("window.__ansimOld = true");
        self.eval(act);
        self.wait_loaded();
    }

    fn wait_loaded(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done = self.eval("window.__ansimOld !== true && document.readyState === 'complete'");
            if done == Value::Bool(true) {
                return;
            }
            assert!(Instant::now() < deadline, "the page did not load in 30 s");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub fn open(&mut self, url: &str) {
        self.eval("window.__ansimOld = true");
        self.call("Page.navigate", json!({"url": url}));
        self.wait_loaded();
    }

    /// Waits until `js` is true (for what the page's own script does).
    pub fn wait_for(&mut self, js: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.eval(js) != Value::Bool(true) {
            assert!(Instant::now() < deadline, "still not true after 15 s: {js}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The page's visible text.
    pub fn text(&mut self) -> String {
        self.eval("document.body.innerText").as_str().unwrap_or_default().to_string()
    }

    /// The current address.
    pub fn url(&mut self) -> String {
        self.eval("location.href").as_str().unwrap_or_default().to_string()
    }

    /// Saves a PNG of the whole page to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}));
        let png = base64_decode(r["data"].as_str().expect("image data"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// Runs axe-core (its source given) on the page; returns the serious and critical
    /// violations as `id: help (targets)`.
    pub fn axe(&mut self, axe_source: &str) -> Vec<String> {
        if self.eval("typeof window.axe") != "object" {
            self.eval(axe_source);
        }
        let v = self.eval(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
               .filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ') + ')'))",
        );
        v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
