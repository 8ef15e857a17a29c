//! Stage-1 detectors: analyse a message (typology detectors with their phrases, a text model,
//! the links in it) and the other party of a message or contact (globe, stranger and fake
//! warnings), and attach the result to the event so rules and features read it.
//!
//! Pure: no IO, no clock. Models are plain data ([`linear::LinearModel`]) that the caller
//! loads; the built-in ones are compiled in.

pub mod linear;
pub mod links;
pub mod metrics;
pub mod normalize;
pub mod text;
