//! Logistic regression over hashed sparse features: the model behind the message and URL
//! classifiers. Training is AdaGrad with L2 over shuffled samples (deterministic for a seed);
//! scoring is one dot product over a few hundred hashed features. The artefact is a small
//! versioned binary file with a checksum, so a model trained by `ansim train` loads anywhere
//! and a damaged or mismatched file is refused with a reason.

use xxhash_rust::xxh3::xxh3_64;

/// A sparse feature vector: `(hashed index, value)`.
pub type Features = Vec<(u32, f32)>;

/// What a model classifies; a model is only ever used with its own featurizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Message text (`crate::text::features`).
    Messages,
    /// URL strings (`crate::links::url_features`).
    Urls,
}

impl ModelKind {
    /// The name used on the command line and in the artefact.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Messages => "messages",
            ModelKind::Urls => "urls",
        }
    }

    fn code(self) -> u8 {
        match self {
            ModelKind::Messages => 1,
            ModelKind::Urls => 2,
        }
    }

    fn from_code(c: u8) -> Option<ModelKind> {
        match c {
            1 => Some(ModelKind::Messages),
            2 => Some(ModelKind::Urls),
            _ => None,
        }
    }
}

/// A trained linear model.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// What it classifies.
    pub kind: ModelKind,
    /// Version of the featurizer it was trained with; loading checks it matches the code.
    pub feature_set: u32,
    /// Feature space is `2^bits` weights.
    pub bits: u8,
    /// One weight per hashed feature.
    pub weights: Vec<f32>,
    /// Intercept.
    pub bias: f32,
    /// Probability at or above which the model says "fraud".
    pub threshold: f32,
    /// What it was trained on (file, rows, settings), for `ansim eval` to print.
    pub meta: String,
}

/// Why a model file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError(pub String);

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

const MAGIC: &[u8; 8] = b"ANSIMLM\0";
const FORMAT: u32 = 1;

pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The index of feature `name` in a space of `2^bits`.
pub fn hash_index(name: &[u8], bits: u8) -> u32 {
    (xxh3_64(name) & ((1u64 << bits) - 1)) as u32
}

/// Scales a feature vector to unit length (long and short texts weigh alike).
pub fn l2_normalise(f: &mut Features) {
    let norm = f.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, v) in f.iter_mut() {
            *v /= norm;
        }
    }
}

impl LinearModel {
    /// The raw score `w·x + b`.
    pub fn margin(&self, f: &[(u32, f32)]) -> f32 {
        let mut m = self.bias;
        for &(i, v) in f {
            if let Some(w) = self.weights.get(i as usize) {
                m += w * v;
            }
        }
        m
    }

    /// The probability of the positive class.
    pub fn probability(&self, f: &[(u32, f32)]) -> f32 {
        sigmoid(self.margin(f))
    }

    /// The artefact: magic, format, kind, feature set, bits, bias, threshold, meta, weights
    /// (little-endian `f32`), then an xxh3 checksum of everything before it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + self.meta.len() + self.weights.len() * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.push(self.kind.code());
        out.push(self.bits);
        out.extend_from_slice(&self.feature_set.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&(self.meta.len() as u32).to_le_bytes());
        out.extend_from_slice(self.meta.as_bytes());
        out.extend_from_slice(&(self.weights.len() as u32).to_le_bytes());
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads an artefact written by [`LinearModel::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Result<LinearModel, ModelError> {
        let err = |m: &str| ModelError(m.to_string());
        if b.len() < 8 + 4 + 2 + 4 + 4 + 4 + 4 + 4 + 8 || &b[..8] != MAGIC {
            return Err(err("not an ansim model file"));
        }
        let (body, sum) = b.split_at(b.len() - 8);
        if xxh3_64(body).to_le_bytes() != sum {
            return Err(err("the model file is damaged (checksum mismatch)"));
        }
        let mut r = Reader { b: body, at: 8 };
        let format = r.u32()?;
        if format != FORMAT {
            return Err(ModelError(format!("model format {format} is not supported (this build reads {FORMAT})")));
        }
        let kind = ModelKind::from_code(r.u8()?).ok_or_else(|| err("unknown model kind"))?;
        let bits = r.u8()?;
        if !(8..=24).contains(&bits) {
            return Err(ModelError(format!("feature space of 2^{bits} is out of range")));
        }
        let feature_set = r.u32()?;
        let bias = r.f32()?;
        let threshold = r.f32()?;
        let meta_len = r.u32()? as usize;
        let meta = String::from_utf8(r.take(meta_len)?.to_vec()).map_err(|_| err("model description is not UTF-8"))?;
        let n = r.u32()? as usize;
        if n != 1usize << bits {
            return Err(ModelError(format!("{n} weights for a feature space of 2^{bits}")));
        }
        let raw = r.take(n * 4)?;
        let weights = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if r.at != body.len() {
            return Err(err("trailing bytes after the weights"));
        }
        Ok(LinearModel { kind, feature_set, bits, weights, bias, threshold, meta })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end =
            self.at.checked_add(n).filter(|&e| e <= self.b.len()).ok_or_else(|| ModelError("truncated".into()))?;
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
}

/// Training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Feature space is `2^bits`.
    pub bits: u8,
    /// Passes over the data.
    pub epochs: u32,
    /// AdaGrad step size.
    pub learning_rate: f32,
    /// L2 penalty per update.
    pub l2: f32,
    /// Shuffling seed.
    pub seed: u64,
    /// Weigh classes inversely to their frequency.
    pub balance: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { bits: 18, epochs: 12, learning_rate: 0.2, l2: 1e-6, seed: 7, balance: true }
    }
}

/// The workspace's one seeded generator (xorshift64*, SplitMix64-seeded), from `model`.
pub use model::Rng;

/// Trains a logistic regression on `(features, is_positive)` samples. The threshold of the
/// result is 0.5; callers tune it on held-out data.
pub fn train(kind: ModelKind, feature_set: u32, samples: &[(Features, bool)], cfg: &TrainConfig) -> LinearModel {
    train_weighted(kind, feature_set, samples, None, cfg)
}

/// [`train`] with a weight per sample (its share of the loss; `None`: all 1). With
/// `cfg.balance` the classes are then balanced by their total weights.
pub fn train_weighted(
    kind: ModelKind,
    feature_set: u32,
    samples: &[(Features, bool)],
    weights: Option<&[f32]>,
    cfg: &TrainConfig,
) -> LinearModel {
    let dim = 1usize << cfg.bits;
    let mut w = vec![0f32; dim];
    let mut g = vec![0f32; dim];
    let (mut b, mut gb) = (0f32, 0f32);
    let weight = |k: usize| weights.and_then(|ws| ws.get(k)).copied().unwrap_or(1.0);
    let total = |class: bool| -> f32 {
        (0..samples.len()).filter(|&k| samples[k].1 == class).map(weight).sum::<f32>().max(1e-6)
    };
    let (pos, neg) = (total(true), total(false));
    let n = pos + neg;
    let (wp, wn) = if cfg.balance { (n / (2.0 * pos), n / (2.0 * neg)) } else { (1.0, 1.0) };
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let mut rng = Rng::new(cfg.seed);
    const EPS: f32 = 1e-8;
    for _ in 0..cfg.epochs {
        rng.shuffle(&mut order);
        for &k in &order {
            let (f, y) = &samples[k];
            let mut m = b;
            for &(i, v) in f {
                m += w[i as usize] * v;
            }
            let p = sigmoid(m);
            let err = (p - if *y { 1.0 } else { 0.0 }) * if *y { wp } else { wn } * weight(k);
            for &(i, v) in f {
                let i = i as usize;
                let grad = err * v + cfg.l2 * w[i];
                g[i] += grad * grad;
                w[i] -= cfg.learning_rate * grad / (g[i] + EPS).sqrt();
            }
            gb += err * err;
            b -= cfg.learning_rate * err / (gb + EPS).sqrt();
        }
    }
    LinearModel { kind, feature_set, bits: cfg.bits, weights: w, bias: b, threshold: 0.5, meta: String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(words: &[&str], y: bool) -> (Features, bool) {
        let mut f: Features = words.iter().map(|w| (hash_index(w.as_bytes(), 10), 1.0)).collect();
        l2_normalise(&mut f);
        (f, y)
    }

    #[test]
    fn learns_a_separable_problem_and_round_trips() {
        let mut data = Vec::new();
        for i in 0..50 {
            data.push(sample(&["free", "prize", if i % 2 == 0 { "call" } else { "now" }], true));
            data.push(sample(&["see", "you", if i % 2 == 0 { "later" } else { "soon" }], false));
        }
        let cfg = TrainConfig { bits: 10, ..TrainConfig::default() };
        let mut m = train(ModelKind::Messages, 3, &data, &cfg);
        m.meta = "unit test".into();
        assert!(m.probability(&sample(&["free", "prize"], true).0) > 0.9);
        assert!(m.probability(&sample(&["see", "you"], false).0) < 0.1);

        let bytes = m.to_bytes();
        assert_eq!(LinearModel::from_bytes(&bytes).unwrap(), m);
        let mut bad = bytes.clone();
        bad[30] ^= 1;
        assert!(LinearModel::from_bytes(&bad).unwrap_err().0.contains("damaged"));
        assert!(LinearModel::from_bytes(&bytes[..20]).is_err());
        assert!(LinearModel::from_bytes(b"hello world, not a model at all....................").is_err());
    }

    #[test]
    fn nearby_seeds_shuffle_differently() {
        let shuffled = |seed| {
            let mut v: Vec<u32> = (0..32).collect();
            Rng::new(seed).shuffle(&mut v);
            v
        };
        assert_ne!(shuffled(2), shuffled(3));
        assert_eq!(shuffled(2), shuffled(2));
    }

    #[test]
    fn training_is_deterministic_for_a_seed() {
        let data: Vec<_> = (0..40).map(|i| sample(&["w", if i % 3 == 0 { "a" } else { "b" }], i % 3 == 0)).collect();
        let cfg = TrainConfig { bits: 10, ..TrainConfig::default() };
        assert_eq!(train(ModelKind::Urls, 1, &data, &cfg), train(ModelKind::Urls, 1, &data, &cfg));
    }
}
