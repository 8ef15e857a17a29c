//! The model file: a small versioned binary format with a checksum, so a model trained by one
//! build loads in another and a damaged, truncated or foreign file is refused with a reason.
//!
//! Layout (little-endian): magic `ANSIMGB\0`, format `u32`, feature count `u32` and each name
//! (`u32` length, UTF-8), base margin `f32`, calibration (`u8` kind: 0 identity, 1 Platt with
//! `a`, `b` as `f32`), meta (`u32` length, UTF-8), metric count `u32` and each metric (name,
//! `f64`), tree count `u32` and each tree (node count `u32`, then per node: feature and flags
//! `u32`, threshold `f32`, left child `u32`, value `f32`, cover `f32`, gain `f32`), then the
//! xxh3-64 of everything before it.

use crate::calibration::Calibration;
use crate::gbdt::Gbdt;
use crate::tree::{Node, Tree};
use crate::{ModelError, err};
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 8] = b"ANSIMGB\0";
const FORMAT: u32 = 1;
const NODE_BYTES: usize = 24;

impl Gbdt {
    /// The artefact (see the module documentation for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let nodes: usize = self.trees.iter().map(|t| t.nodes().len()).sum();
        let mut out = Vec::with_capacity(64 + self.meta.len() + 32 * self.features.len() + nodes * NODE_BYTES);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, FORMAT);
        put_u32(&mut out, self.features.len() as u32);
        for f in &self.features {
            put_str(&mut out, f);
        }
        out.extend_from_slice(&self.base_margin.to_le_bytes());
        match self.calibration {
            Calibration::Identity => out.push(0),
            Calibration::Platt { a, b } => {
                out.push(1);
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
            }
        }
        put_str(&mut out, &self.meta);
        put_u32(&mut out, self.metrics.len() as u32);
        for (name, v) in &self.metrics {
            put_str(&mut out, name);
            out.extend_from_slice(&v.to_le_bytes());
        }
        put_u32(&mut out, self.trees.len() as u32);
        for t in &self.trees {
            put_u32(&mut out, t.nodes().len() as u32);
            for ((n, &cover), &gain) in t.nodes().iter().zip(t.cover()).zip(t.gain()) {
                let (bits, threshold, left) = match (n.feature(), n.children()) {
                    (Some(f), Some((l, _))) => {
                        (f as u32 | if n.default_left() { 1 << 31 } else { 0 }, n.threshold().unwrap_or(0.0), l as u32)
                    }
                    _ => (1 << 30, f32::NEG_INFINITY, 0),
                };
                put_u32(&mut out, bits);
                out.extend_from_slice(&threshold.to_le_bytes());
                put_u32(&mut out, left);
                out.extend_from_slice(&n.value().to_le_bytes());
                out.extend_from_slice(&cover.to_le_bytes());
                out.extend_from_slice(&gain.to_le_bytes());
            }
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads an artefact written by [`Gbdt::to_bytes`]; the model scores exactly as the one
    /// saved.
    pub fn from_bytes(b: &[u8]) -> Result<Gbdt, ModelError> {
        if b.len() < MAGIC.len() || &b[..MAGIC.len()] != MAGIC {
            return err("not an ansim tree model file (wrong magic)");
        }
        if b.len() < MAGIC.len() + 4 + 8 {
            return err("the tree model file is truncated");
        }
        let (body, sum) = b.split_at(b.len() - 8);
        let mut r = Reader { b: body, at: MAGIC.len() };
        let format = r.u32()?;
        let intact = xxh3_64(body).to_le_bytes() == sum;
        if format != FORMAT {
            let damaged = if intact { "" } else { ", or the file is damaged" };
            return Err(ModelError(format!(
                "tree model format {format} is not supported (this build reads format {FORMAT}{damaged})"
            )));
        }
        if !intact {
            return err("the tree model file is damaged or truncated (checksum mismatch)");
        }
        let nf = r.count(4)?;
        let mut features = Vec::with_capacity(nf);
        for _ in 0..nf {
            features.push(r.string("feature name")?);
        }
        if nf == 0 || nf >= 1 << 30 {
            return Err(ModelError(format!("a model of {nf} features")));
        }
        let base_margin = r.f32()?;
        if !base_margin.is_finite() {
            return err("the base margin is not finite");
        }
        let calibration = match r.u8()? {
            0 => Calibration::Identity,
            1 => {
                let (a, b) = (r.f32()?, r.f32()?);
                if !(a.is_finite() && b.is_finite()) {
                    return err("the Platt calibration is not finite");
                }
                Calibration::Platt { a, b }
            }
            k => return Err(ModelError(format!("unknown calibration kind {k}"))),
        };
        let meta = r.string("meta")?;
        let nm = r.count(12)?;
        let mut metrics = Vec::with_capacity(nm);
        for _ in 0..nm {
            let name = r.string("metric name")?;
            metrics.push((name, r.f64()?));
        }
        let nt = r.count(4)?;
        let mut trees = Vec::with_capacity(nt);
        for t in 0..nt {
            let nn = r.count(NODE_BYTES)?;
            let (mut nodes, mut cover, mut gain) =
                (Vec::with_capacity(nn), Vec::with_capacity(nn), Vec::with_capacity(nn));
            for i in 0..nn {
                let (bits, threshold, left, value) = (r.u32()?, r.f32()?, r.u32()?, r.f32()?);
                cover.push(r.f32()?);
                gain.push(r.f32()?);
                nodes.push(if bits & (1 << 30) != 0 {
                    Node::leaf(value)
                } else {
                    let f = (bits & ((1 << 30) - 1)) as usize;
                    if f >= nf {
                        return Err(ModelError(format!("tree {t} node {i} splits on feature {f} of {nf}")));
                    }
                    Node::split(f, threshold, bits & (1 << 31) != 0, left as usize)
                });
            }
            let tree = Tree::new(nodes, cover, gain).map_err(|e| ModelError(format!("tree {t}: {e}")))?;
            trees.push(tree);
        }
        if r.at != body.len() {
            return err("trailing bytes after the trees");
        }
        let mut model = Gbdt::new(features, base_margin, trees)?;
        model.calibration = calibration;
        model.meta = meta;
        model.metrics = metrics;
        Ok(model)
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| ModelError("the tree model file is truncated".into()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_bits(self.u32()?))
    }

    fn f64(&mut self) -> Result<f64, ModelError> {
        let s = self.take(8)?;
        Ok(f64::from_le_bytes(s.try_into().expect("8 bytes")))
    }

    /// A count of items of at least `min_bytes` each, checked against the bytes left so a
    /// hostile count cannot make the reader allocate more than the file's size.
    fn count(&mut self, min_bytes: usize) -> Result<usize, ModelError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes) > self.b.len() - self.at {
            return err("the tree model file is truncated (a count exceeds the bytes left)");
        }
        Ok(n)
    }

    fn string(&mut self, what: &str) -> Result<String, ModelError> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ModelError(format!("a {what} is not UTF-8")))
    }
}
